//! Hash maps and sets with a fixed key. std's default hasher draws each thread's keys from
//! `getrandom` on first use and panics if the system refuses: a panic on a runtime path. The
//! keys here are lock paths and numbers the application chose, not an attacker's, so a fixed key
//! costs nothing. `clippy.toml` forbids the std constructors that would seed randomly.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::hash::BuildHasherDefault;

/// A `HashMap` that never asks the system for random keys; make one with `Map::default()`.
pub type Map<K, V> = HashMap<K, V, BuildHasherDefault<DefaultHasher>>;

/// A `HashSet` that never asks the system for random keys; make one with `Set::default()`.
pub type Set<T> = HashSet<T, BuildHasherDefault<DefaultHasher>>;
