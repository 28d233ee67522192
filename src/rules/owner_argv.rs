//! Is a live legacy holder the gateway? The gateway's own module treats a live lock holder
//! whose command line is readable and is not the gateway's as gone (`non-gateway-owner`), so a
//! lock left by a reused pid does not block a session. The rules are the gateway's
//! (docs/PROTOCOL.md, "Owner command lines"); the matcher is a replaceable hook.

/// Decides from a process's arguments (`argv`) whether it is the gateway.
#[derive(Clone, Copy)]
pub struct ArgvMatcher(pub fn(&[String]) -> bool);

impl ArgvMatcher {
    /// The gateway's rules ([`is_gateway_argv`]).
    pub const GATEWAY: ArgvMatcher = ArgvMatcher(is_gateway_argv);

    /// `Some(true/false)` for a non-blank command line, `None` (owner unknown) otherwise.
    pub fn classify(self, args: Option<&[String]>) -> Option<bool> {
        let args = args?;
        if args.iter().all(|a| a.trim().is_empty()) {
            return None;
        }
        Some((self.0)(args))
    }
}

impl PartialEq for ArgvMatcher {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::fn_addr_eq(self.0, other.0)
    }
}

impl Eq for ArgvMatcher {}

impl std::fmt::Debug for ArgvMatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ArgvMatcher")
    }
}

const ENTRY_SUFFIXES: [&str; 5] = [
    "dist/index.js",
    "dist/entry.js",
    "scripts/run-node.mjs",
    "src/entry.ts",
    "src/index.ts",
];

/// The gateway's rules: its binary (`openclaw`, `openclaw-gateway`, by name or path), its script
/// (`openclaw.mjs`), or one of its entry files together with a `gateway` or `agent` argument.
/// A running 2026.7 gateway sets its process title to `openclaw-gateway`, so its whole command
/// line is that one word: without the bare name, a live gateway's locks would be reclaimed.
/// Arguments are trimmed, lowercased, `\` read as `/`; empty ones are dropped.
pub fn is_gateway_argv(args: &[String]) -> bool {
    let args: Vec<String> = args
        .iter()
        .map(|a| a.trim().replace('\\', "/").to_lowercase())
        .filter(|a| !a.is_empty())
        .collect();
    let Some(first) = args.first() else {
        return false;
    };
    let binary = [".exe", ".cmd", ".bat"]
        .iter()
        .find_map(|ext| first.strip_suffix(ext))
        .unwrap_or(first);
    if binary == "openclaw"
        || binary == "openclaw-gateway"
        || binary.ends_with("/openclaw")
        || binary.ends_with("/openclaw-gateway")
    {
        return true;
    }
    let is_script = |a: &String| {
        a == "openclaw"
            || a == "openclaw.mjs"
            || a.ends_with("/openclaw")
            || a.ends_with("/openclaw.mjs")
    };
    if args.iter().any(is_script) {
        return true;
    }
    let entry = args
        .iter()
        .any(|a| ENTRY_SUFFIXES.iter().any(|s| a.ends_with(s)));
    entry && args.iter().any(|a| a == "gateway" || a == "agent")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(args: &[&str]) -> Vec<String> {
        args.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn the_gateway_rules() {
        let rows: [(&[&str], bool); 18] = [
            (&["node", "/opt/openclaw/openclaw.mjs", "agent"], true),
            (&["node", "/opt/openclaw/openclaw.mjs", "doctor"], true),
            (&["node", "dist/index.js", "gateway", "run"], true),
            (&["node", "/srv/app/dist/index.js"], false),
            (&["python", "worker.py"], false),
            (&["/usr/local/bin/openclaw", "gateway"], true),
            (&["C:\\Tools\\OPENCLAW.EXE"], true),
            (&["/usr/bin/openclaw-gateway"], true),
            (&["openclaw-gateway"], true),
            (&["OpenClaw-Gateway.exe"], true),
            (&["/opt/notopenclaw-gateway"], false),
            (&["node", "openclaw-gateway"], false),
            (&["node", "-e", "setInterval(()=>{},1e9)", "openclaw"], true),
            (&["  ", "node", " src/entry.ts ", "AGENT"], true),
            (&["node", "scripts/run-node.mjs", "doctor"], false),
            (&["node", "/x/notopenclaw.mjs"], false),
            (&[], false),
            (&["", " "], false),
        ];
        for (args, expected) in rows {
            assert_eq!(is_gateway_argv(&argv(args)), expected, "{args:?}");
        }
    }

    #[test]
    fn blank_or_unreadable_command_lines_are_unknown() {
        let m = ArgvMatcher::GATEWAY;
        assert_eq!(m.classify(None), None);
        assert_eq!(m.classify(Some(&argv(&["", " "]))), None);
        assert_eq!(m.classify(Some(&argv(&["python"]))), Some(false));
        assert_eq!(m.classify(Some(&argv(&["openclaw"]))), Some(true));
        assert_eq!(ArgvMatcher::GATEWAY, ArgvMatcher::GATEWAY);
    }
}
