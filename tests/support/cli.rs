//! `rex` commands run in-process (the same code as the binary), their
//! output read line by line as it is printed.

use std::io::Write;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// A writer that sends each complete line to a channel.
pub struct ChannelWriter(pub mpsc::UnboundedSender<String>, pub Vec<u8>);

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.1.extend_from_slice(buf);
        while let Some(end) = self.1.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.1.drain(..=end).collect();
            let _ = self
                .0
                .send(String::from_utf8_lossy(&line).trim_end().to_owned());
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs `rex` with `args` (without the program name) in a task; its
/// stdout and stderr lines, as printed, come out of the receiver.
pub fn spawn_rex(args: Vec<String>) -> (JoinHandle<u8>, mpsc::UnboundedReceiver<String>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        let mut out = ChannelWriter(tx.clone(), Vec::new());
        let mut err = ChannelWriter(tx, Vec::new());
        let argv = std::iter::once("rex".to_owned()).chain(args);
        rex::cli::run(argv, &mut out, &mut err, false).await
    });
    (task, rx)
}
