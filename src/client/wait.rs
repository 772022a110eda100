//! Waiting for the first N of several processes.
use super::process::Process;
use futures::stream::{FuturesUnordered, StreamExt};

/// Waits until `n` of `processes` have ended. Returns them in the order they
/// finished, and the others (still running) in their original order. Output
/// that was not taken is collected meanwhile, as `Process::wait` does, so
/// `result()` on a returned process has it.
pub async fn wait(mut processes: Vec<Process>, n: usize) -> (Vec<Process>, Vec<Process>) {
    let n = n.min(processes.len());
    // Those that already ended are picked first, earliest first: polling
    // order must not decide between processes that finished long ago.
    let mut finished: Vec<usize> = (0..processes.len())
        .filter(|&i| processes[i].ended_at().is_some())
        .collect();
    finished.sort_by_key(|&i| processes[i].ended_at());
    finished.truncate(n);
    for &i in &finished {
        processes[i].settle().await;
    }
    if finished.len() < n {
        let mut running: FuturesUnordered<_> = processes
            .iter_mut()
            .enumerate()
            .filter(|(i, _)| !finished.contains(i))
            .map(|(i, p)| async move {
                p.settle().await;
                i
            })
            .collect();
        while finished.len() < n {
            match running.next().await {
                Some(i) => finished.push(i),
                None => break,
            }
        }
    }
    finished.sort_by_key(|&i| processes[i].ended_at());

    let mut slots: Vec<Option<Process>> = processes.into_iter().map(Some).collect();
    let done = finished
        .iter()
        .filter_map(|&i| slots.get_mut(i).and_then(Option::take))
        .collect();
    let pending = slots.into_iter().flatten().collect();
    (done, pending)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::process::{Control, Ended};
    use crate::client::types::{OutputChunk, ProcessStatus, StreamKind};
    use std::sync::Arc;
    use tokio::sync::{mpsc, watch, Notify};

    /// A process whose ending the test controls: (handle, output sender, status sender).
    fn fake(
        id: &str,
    ) -> (
        Process,
        mpsc::Sender<OutputChunk>,
        watch::Sender<Option<Ended>>,
    ) {
        let (out_tx, out_rx) = mpsc::channel(4);
        let (ended_tx, ended_rx) = watch::channel(None);
        let p = Process {
            sandbox_id: id.into(),
            argv: vec!["x".into()],
            check: false,
            stdin: None,
            output: Some(out_rx),
            ended: ended_rx,
            control: Arc::new(Control {
                kill: Notify::new(),
                requests: None,
            }),
            stdout: Vec::new(),
            stderr: Vec::new(),
            started_at: None,
        };
        (p, out_tx, ended_tx)
    }

    fn end(tx: &watch::Sender<Option<Ended>>, code: i32) {
        tx.send_replace(Some(Ended {
            status: ProcessStatus::Exited(code),
            error: None,
            at: std::time::Instant::now(),
        }));
    }

    fn ids(ps: &[Process]) -> Vec<&str> {
        ps.iter().map(|p| p.sandbox_id()).collect()
    }

    #[tokio::test]
    async fn already_finished_come_back_in_finishing_order() {
        let (a, a_out, a_end) = fake("a");
        let (b, _b_out, _b_end) = fake("b");
        let (c, c_out, c_end) = fake("c");
        end(&c_end, 0);
        drop(c_out);
        std::thread::sleep(std::time::Duration::from_millis(2));
        end(&a_end, 0);
        drop(a_out);
        let (done, pending) = wait(vec![a, b, c], 2).await;
        assert_eq!(ids(&done), ["c", "a"]);
        assert_eq!(ids(&pending), ["b"]);
    }

    #[tokio::test]
    async fn waits_for_running_ones_and_collects_their_output() {
        let (a, _a_out, _a_end) = fake("a");
        let (b, b_out, b_end) = fake("b");
        let waiter = tokio::spawn(wait(vec![a, b], 1));
        let chunk = OutputChunk {
            stream: StreamKind::Stdout,
            data: bytes::Bytes::from_static(b"out"),
        };
        assert!(b_out.send(chunk).await.is_ok());
        end(&b_end, 3);
        drop(b_out);
        let (done, pending) = match waiter.await {
            Ok(r) => r,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(ids(&done), ["b"]);
        assert_eq!(ids(&pending), ["a"]);
        let r = done.into_iter().next().map(|p| p.result());
        let r = match r {
            Some(f) => f.await.ok(),
            None => None,
        };
        assert_eq!(
            r.map(|r| (r.stdout, r.returncode)),
            Some((b"out".to_vec(), 3))
        );
    }

    #[tokio::test]
    async fn n_larger_than_the_list_and_zero() {
        let (a, a_out, a_end) = fake("a");
        end(&a_end, 0);
        drop(a_out);
        let (done, pending) = wait(vec![a], 5).await;
        assert_eq!((done.len(), pending.len()), (1, 0));
        let (b, _o, _e) = fake("b");
        let (done, pending) = wait(vec![b], 0).await;
        assert_eq!((done.len(), pending.len()), (0, 1));
    }
}
