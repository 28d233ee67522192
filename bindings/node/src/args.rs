//! Reading JavaScript arguments, each named by its [`OptionName`]. A value of the wrong
//! JavaScript type is a `TypeError` naming the option; the values themselves are validated by
//! the core, in one place for every binding.

use crate::errors::{invalid_arg_type, js_spelling, to_js};
use napi::bindgen_prelude::{Buffer, FromNapiValue, JsObjectValue, Object, Unknown, ValueType};
use napi::{Env, JsValue, Result};
use session_write_lock::{check_path, Error as LockError, OptionName};
use std::path::PathBuf;

/// The JavaScript types the API accepts, with the words error messages use for them.
#[derive(Clone, Copy)]
pub enum Kind {
    String,
    Number,
    Boolean,
    Object,
    Function,
}

impl Kind {
    fn value_type(self) -> ValueType {
        match self {
            Kind::String => ValueType::String,
            Kind::Number => ValueType::Number,
            Kind::Boolean => ValueType::Boolean,
            Kind::Object => ValueType::Object,
            Kind::Function => ValueType::Function,
        }
    }

    fn expected(self) -> &'static str {
        match self {
            Kind::String => "a string",
            Kind::Number => "a number",
            Kind::Boolean => "a boolean",
            Kind::Object => "an object",
            Kind::Function => "a function",
        }
    }
}

/// `value` as a `T`, or `None` when it is missing or `undefined` (`null` is a wrong type: the
/// TypeScript module's callers never pass it, and a silent default would hide a bug).
fn optional<T: FromNapiValue>(
    env: &Env,
    name: OptionName,
    value: Option<Unknown<'_>>,
    kind: Kind,
) -> Result<Option<T>> {
    let Some(value) = value else {
        return Ok(None);
    };
    let actual = value.get_type()?;
    if actual == ValueType::Undefined {
        return Ok(None);
    }
    if actual != kind.value_type() {
        return Err(invalid_arg_type(env, name, kind.expected(), actual));
    }
    T::from_unknown(value).map(Some)
}

/// A required argument of the given kind (`None`: the property does not exist).
pub fn required<T: FromNapiValue>(
    env: &Env,
    name: OptionName,
    value: Option<Unknown<'_>>,
    kind: Kind,
) -> Result<T> {
    optional(env, name, value, kind)?
        .ok_or_else(|| invalid_arg_type(env, name, kind.expected(), ValueType::Undefined))
}

/// A path argument: a string that the operating system can take (not empty, no NUL byte).
pub fn path(env: &Env, name: OptionName, value: Option<Unknown<'_>>) -> Result<String> {
    let path: String = required(env, name, value, Kind::String)?;
    check_path(name, path.as_ref()).map_err(|e| to_js(env, &e))?;
    Ok(path)
}

/// A path argument given as a string or, for a name that is not UTF-8, as a `Buffer` of its
/// bytes (as `listLockFiles` gives such names).
pub fn path_bytes(env: &Env, name: OptionName, value: Option<Unknown<'_>>) -> Result<PathBuf> {
    let Some(buffer) = value.filter(|v| v.is_typedarray().unwrap_or(false)) else {
        return path(env, name, value).map(PathBuf::from);
    };
    let bytes = Buffer::from_unknown(buffer)?.to_vec();
    let path = os_path(bytes).ok_or_else(|| {
        let message = "must be UTF-8 on Windows, whose names are UTF-16".to_owned();
        to_js(env, &LockError::InvalidArgument { name, message })
    })?;
    check_path(name, path.as_os_str()).map_err(|e| to_js(env, &e))?;
    Ok(path)
}

/// Bytes as a path: any bytes on Unix; on Windows, whose names are UTF-16, UTF-8 only.
#[cfg(unix)]
fn os_path(bytes: Vec<u8>) -> Option<PathBuf> {
    use std::os::unix::ffi::OsStringExt;
    Some(PathBuf::from(std::ffi::OsString::from_vec(bytes)))
}

#[cfg(not(unix))]
fn os_path(bytes: Vec<u8>) -> Option<PathBuf> {
    String::from_utf8(bytes).ok().map(PathBuf::from)
}

/// The options object of a call (`acquireSessionWriteLock({ … })` and the like).
pub struct Params<'env> {
    env: &'env Env,
    object: Object<'env>,
}

impl<'env> Params<'env> {
    pub fn new(env: &'env Env, value: Unknown<'env>) -> Result<Params<'env>> {
        let object = required(env, OptionName::Params, Some(value), Kind::Object)?;
        Ok(Params { env, object })
    }

    /// Options read from an object already in hand.
    pub fn from_object(env: &'env Env, object: Object<'env>) -> Params<'env> {
        Params { env, object }
    }

    /// The property `key`, or `None` when it is missing or `undefined`. Read by name
    /// (`napi_get_named_property`), where `Object::get` would first make a new JavaScript
    /// string of the key for every read (issue #21).
    fn get(&self, key: OptionName) -> Result<Option<Unknown<'env>>> {
        let value: Unknown<'env> = self.object.get_named_property_unchecked(js_spelling(key))?;
        Ok((value.get_type()? != ValueType::Undefined).then_some(value))
    }

    pub fn path(&self, key: OptionName) -> Result<String> {
        path(self.env, key, self.get(key)?)
    }

    pub fn path_bytes(&self, key: OptionName) -> Result<PathBuf> {
        path_bytes(self.env, key, self.get(key)?)
    }

    pub fn number(&self, key: OptionName) -> Result<Option<f64>> {
        optional(self.env, key, self.get(key)?, Kind::Number)
    }

    /// A number option the gateway's way: anything that is not a number means "the default"
    /// (`None`); the value itself is judged by the core.
    pub fn lenient_number(&self, key: OptionName) -> Result<Option<f64>> {
        let value: Option<Unknown<'_>> = self.get(key)?;
        match value {
            Some(v) if v.get_type()? == ValueType::Number => f64::from_unknown(v).map(Some),
            _ => Ok(None),
        }
    }

    /// An object option, or `None` when missing, `undefined` or `null`.
    pub fn object(&self, key: OptionName) -> Result<Option<Object<'env>>> {
        let value: Option<Unknown<'env>> = self.get(key)?;
        match value {
            Some(v) if v.get_type()? == ValueType::Object => Object::from_unknown(v).map(Some),
            _ => Ok(None),
        }
    }

    /// Whether the property exists (even as `undefined` or `null`).
    pub fn has(&self, key: OptionName) -> Result<bool> {
        self.object.has_named_property(js_spelling(key))
    }

    pub fn string(&self, key: OptionName) -> Result<Option<String>> {
        optional(self.env, key, self.get(key)?, Kind::String)
    }

    /// A list of strings, or `None` when missing, `undefined` or `null`.
    pub fn strings(&self, key: OptionName) -> Result<Option<Vec<String>>> {
        let value: Option<Unknown<'_>> = self.get(key)?;
        match value {
            Some(v) if !matches!(v.get_type()?, ValueType::Undefined | ValueType::Null) => {
                Vec::<String>::from_unknown(v).map(Some)
            }
            _ => Ok(None),
        }
    }

    pub fn boolean(&self, key: OptionName) -> Result<Option<bool>> {
        optional(self.env, key, self.get(key)?, Kind::Boolean)
    }
}
