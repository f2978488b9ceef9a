//! A raw TCP issuer for what an HTTP mock cannot do: a body that trickles in a byte at
//! a time, or an answer that is not HTTP at all. It reads each request's head and then
//! plays its [`Misbehaviour`] on the connection.
//!
//! ```ignore
//! let raw = RawIssuer::start(Misbehaviour::Trickle { every: Duration::from_millis(200) }).await;
//! let registry = standin.registry_toml_at("slow", &raw.base_url(), "^S[0-9]{10}$");
//! ```

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// How the raw issuer answers every request.
#[derive(Debug, Clone, Copy)]
pub enum Misbehaviour {
    /// A 200 `application/jose+json` head announcing 100 000 bytes, then one byte per
    /// `every`, for as long as the client listens.
    Trickle { every: Duration },
    /// Bytes that are not an HTTP response (invalid UTF-8 and no status line), then close.
    NotHttp,
}

/// A running raw issuer; dropping it stops accepting.
pub struct RawIssuer {
    base_url: String,
    accepted: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl RawIssuer {
    pub async fn start(how: Misbehaviour) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base_url = format!("http://{}", listener.local_addr().expect("address"));
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    // The head only: the request body (two short strings) does not matter.
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    match how {
                        Misbehaviour::Trickle { every } => {
                            let head = "HTTP/1.1 200 OK\r\ncontent-type: application/jose+json\r\ncontent-length: 100000\r\n\r\n";
                            if stream.write_all(head.as_bytes()).await.is_err() {
                                return;
                            }
                            for _ in 0..100_000 {
                                tokio::time::sleep(every).await;
                                if stream.write_all(b"{").await.is_err() {
                                    return;
                                }
                            }
                        }
                        Misbehaviour::NotHttp => {
                            let _ = stream.write_all(b"\xff\xfe\xc3\x28 not http\r\n\r\n").await;
                        }
                    }
                });
            }
        });
        RawIssuer {
            base_url,
            accepted,
            task,
        }
    }

    /// `http://127.0.0.1:{port}`, without a trailing `/`.
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// How many connections it accepted.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for RawIssuer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
