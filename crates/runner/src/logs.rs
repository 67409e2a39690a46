//! Component stdout/stderr: each line goes to the console prefixed by the
//! component id, and to `<state-dir>/logs/<id>_{stdout,stderr}.txt`.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// Where one component's stream goes. Cheap to clone.
#[derive(Clone)]
pub struct ComponentLog {
    inner: Arc<LogSink>,
}

struct LogSink {
    prefix: String,
    to_stderr: bool,
    file: Option<Mutex<File>>,
    quiet: bool,
}

impl ComponentLog {
    /// Opens (appending) the log file for `component`'s `stream`
    /// ("stdout" or "stderr") under `logs_dir`.
    pub fn open(
        logs_dir: Option<&Path>,
        component: &str,
        stream: &str,
        quiet: bool,
    ) -> std::io::Result<Self> {
        let file = match logs_dir {
            Some(dir) => {
                std::fs::create_dir_all(dir)?;
                Some(Mutex::new(
                    File::options()
                        .create(true)
                        .append(true)
                        .open(dir.join(format!("{component}_{stream}.txt")))?,
                ))
            }
            None => None,
        };
        Ok(Self {
            inner: Arc::new(LogSink {
                prefix: format!("[{component}] "),
                to_stderr: stream == "stderr",
                file,
                quiet,
            }),
        })
    }

    /// Writes one whole line (a runner message about the component).
    pub fn line(&self, line: &str) {
        let mut pending = Vec::new();
        self.write_lines(&mut pending, format!("{line}\n").as_bytes(), false);
    }

    fn write_lines(&self, pending: &mut Vec<u8>, bytes: &[u8], flush_partial: bool) {
        pending.extend_from_slice(bytes);
        let cut = if flush_partial {
            pending.len()
        } else {
            match pending.iter().rposition(|b| *b == b'\n') {
                Some(i) => i + 1,
                None => return,
            }
        };
        if cut == 0 {
            return;
        }
        let chunk: Vec<u8> = pending.drain(..cut).collect();
        let sink = &self.inner;
        if let Some(file) = &sink.file
            && let Ok(mut f) = file.lock()
        {
            let _ = f.write_all(&chunk);
            if flush_partial && !chunk.ends_with(b"\n") {
                let _ = f.write_all(b"\n");
            }
        }
        if sink.quiet {
            return;
        }
        let mut text = String::new();
        for line in String::from_utf8_lossy(&chunk).lines() {
            text.push_str(&sink.prefix);
            text.push_str(line);
            text.push('\n');
        }
        if sink.to_stderr {
            let _ = std::io::stderr().lock().write_all(text.as_bytes());
        } else {
            let _ = std::io::stdout().lock().write_all(text.as_bytes());
        }
    }
}

impl IsTerminal for ComponentLog {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for ComponentLog {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(LineWriter {
            log: self.clone(),
            pending: Vec::new(),
        })
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(LineWriter {
            log: self.clone(),
            pending: Vec::new(),
        })
    }
}

/// One guest stream handle; buffers a partial line until its newline.
struct LineWriter {
    log: ComponentLog,
    pending: Vec<u8>,
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        if !self.pending.is_empty() {
            let mut pending = std::mem::take(&mut self.pending);
            self.log.write_lines(&mut pending, &[], true);
        }
    }
}

#[async_trait::async_trait]
impl Pollable for LineWriter {
    async fn ready(&mut self) {}
}

impl OutputStream for LineWriter {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.log.write_lines(&mut self.pending, &bytes, false);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(64 * 1024)
    }
}

impl tokio::io::AsyncWrite for LineWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = &mut *self;
        this.log.write_lines(&mut this.pending, buf, false);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_whole_lines_to_the_component_log_file() {
        let dir = std::env::temp_dir().join(format!("careflow-logs-{}", std::process::id()));
        let log = ComponentLog::open(Some(&dir), "admin", "stdout", true).unwrap();
        {
            let mut w = LineWriter {
                log: log.clone(),
                pending: Vec::new(),
            };
            w.write(Bytes::from_static(b"hello ")).unwrap();
            w.write(Bytes::from_static(b"world\npartial")).unwrap();
        }
        let text = std::fs::read_to_string(dir.join("admin_stdout.txt")).unwrap();
        assert_eq!(text, "hello world\npartial\n");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
