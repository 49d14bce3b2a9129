//! Test hook, debug builds only: when `RETENTION_TEST_PAUSE_AT` names a step the process
//! reaches, it creates the file `RETENTION_TEST_PAUSE_FILE` and waits there — for a test
//! to `kill -9` it at exactly that point, or to change the database under it and then
//! remove the file, which lets it go on. It pauses at the first time it reaches the step
//! only. Release builds compile it to nothing.

#[cfg(debug_assertions)]
pub async fn pause_at(step: &str) {
    use std::sync::atomic::{AtomicBool, Ordering};
    static PAUSED: AtomicBool = AtomicBool::new(false);
    if std::env::var("RETENTION_TEST_PAUSE_AT").ok().as_deref() != Some(step)
        || PAUSED.swap(true, Ordering::SeqCst)
    {
        return;
    }
    let Ok(path) = std::env::var("RETENTION_TEST_PAUSE_FILE") else {
        return;
    };
    let _ = std::fs::write(&path, step);
    let until = std::time::Instant::now() + std::time::Duration::from_secs(3600);
    while std::path::Path::new(&path).exists() && std::time::Instant::now() < until {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[cfg(not(debug_assertions))]
pub async fn pause_at(_step: &str) {}
