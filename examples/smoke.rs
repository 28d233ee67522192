use session_write_lock::*;
use std::time::{Duration, Instant};
fn main() {
    let dir = std::env::temp_dir().join(format!("swl-smoke-{}", std::process::id()));
    let f = dir.join("a.jsonl");
    let g = acquire(&f, &Options::default()).unwrap();
    println!("held {}", g.lock_path().display());
    println!("{}", std::fs::read_to_string(g.lock_path()).unwrap());
    let o = Options {
        timeout: Some(Duration::from_millis(100)),
        allow_reentrant: false,
        ..Default::default()
    };
    let t = Instant::now();
    println!(
        "{:?} after {:?}",
        acquire(&f, &o).err().map(|e| e.to_string()),
        t.elapsed()
    );
    let g2 = acquire(&f, &Options::default()).unwrap();
    println!("reentrant same gen {}", g2.generation() == g.generation());
    println!("{:?}", inspect(&f, Duration::from_secs(1800)).unwrap());
    let h = std::thread::spawn({
        let f = f.clone();
        let o = o.clone();
        move || {
            let t = Instant::now();
            let r = acquire(
                &f,
                &Options {
                    timeout: Some(Duration::from_secs(2)),
                    ..o
                },
            );
            (
                r.map(|g| g.generation()).map_err(|e| e.to_string()),
                t.elapsed(),
            )
        }
    });
    std::thread::sleep(Duration::from_millis(200));
    let t = Instant::now();
    println!("{:?} {:?}", g.release(), g2.release());
    let (r, waited) = h.join().unwrap();
    println!("waiter: {r:?} waited {waited:?}, handoff {:?}", t.elapsed());
    println!("release_all {}", release_all());
    std::fs::remove_dir_all(dir).unwrap();
}
