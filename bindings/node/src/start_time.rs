//! `setStartTimePins(pins | null)`: the Node side of the start-time resolver test hook
//! (docs/PROTOCOL.md, "Test hooks"). The package calls the user's JavaScript resolver on the JS
//! thread for the pids a call involves and hands the answers here, so native code on any thread
//! reads a table and never calls back into JavaScript. Pids not in the table read `/proc`.

use napi_derive::napi;
use session_write_lock::testing::{read_process_start_time, set_start_time_resolver};
use std::collections::HashMap;
use std::sync::Arc;

/// One resolver answer; `starttime` absent (or not a whole number) is "unknown".
#[napi(object)]
pub struct StartTimePin {
    pub pid: u32,
    pub starttime: Option<f64>,
}

fn whole(value: f64) -> Option<u64> {
    (value.is_finite() && value >= 0.0 && value.fract() == 0.0 && value <= 9_007_199_254_740_991.0)
        .then_some(value as u64)
}

/// Installs the table (`null`: the real start times again).
#[napi(js_name = "setStartTimePins")]
pub fn set_start_time_pins(pins: Option<Vec<StartTimePin>>) {
    let resolver = pins.map(|pins| {
        let table: HashMap<u32, Option<u64>> = pins
            .into_iter()
            .map(|pin| (pin.pid, pin.starttime.and_then(whole)))
            .collect();
        Arc::new(move |pid| match table.get(&pid) {
            Some(pinned) => *pinned,
            None => read_process_start_time(pid),
        }) as session_write_lock::testing::StartTimeResolver
    });
    set_start_time_resolver(resolver);
}
