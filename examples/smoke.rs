use echo_harness::spawn::SpawnOptions;
use echo_harness::Check;
use std::sync::Arc;
fn main() {
    let exe = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .join("faulty_echo");
    let modes: Vec<String> = std::env::args().skip(1).collect();
    for mode in &modes {
        for seed in 0..4u64 {
            let target = Arc::new(
                SpawnOptions::new(format!("{} --mode {mode} --listen {{addr}}", exe.display()))
                    .spawn()
                    .unwrap(),
            );
            let t2 = target.clone();
            let started = std::time::Instant::now();
            let v = Check::new(target.addr())
                .seed(seed)
                .cases(50)
                .liveness(Arc::new(move || {
                    t2.try_exit_status().map(|s| s.to_string())
                }))
                .run();
            match &v.failure {
                None => println!("{mode} seed {seed}: PASSED {} cases", v.cases),
                Some(f) => println!(
                    "{mode} seed {seed}: case {} {} conns={} bytes={} shrink={} {:?} [{:.1?}] {}",
                    f.case_index,
                    f.divergence.kind.name(),
                    f.minimal.connections.len(),
                    f.minimal.total_len(),
                    f.shrink_steps,
                    f.shrink_elapsed,
                    started.elapsed(),
                    f.divergence.summary()
                ),
            }
        }
    }
}
