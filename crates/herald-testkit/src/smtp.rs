//! A real SMTP server for tests (mailin-embedded, on a thread, port 0) that keeps every
//! message it receives. A client's `DATA` is answered only once the message is stored, so a
//! test that waited for its send to finish can read the message at once.

use mailin_embedded::response::OK;
use mailin_embedded::{Handler, Response, Server, SslConfig};
use std::io;
use std::net::{IpAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Sessions served at once: each open client connection (a pooled one too) holds a thread.
const SESSIONS: u32 = 64;

/// One received message: the envelope, the raw RFC 5322 text and when it was complete.
#[derive(Clone, Debug, PartialEq)]
pub struct ReceivedMail {
    /// `MAIL FROM`.
    pub from: String,
    /// Every `RCPT TO`.
    pub to: Vec<String>,
    /// Headers and body, as sent.
    pub data: Vec<u8>,
    /// When its `DATA` ended.
    pub arrived_at: Instant,
}

impl Default for ReceivedMail {
    fn default() -> Self {
        Self { from: String::new(), to: Vec::new(), data: Vec::new(), arrived_at: Instant::now() }
    }
}

/// The running server.
pub struct SmtpSink {
    /// The port it listens on, on 127.0.0.1.
    pub port: u16,
    received: Arc<Mutex<Vec<ReceivedMail>>>,
}

#[derive(Clone)]
struct Keeper {
    received: Arc<Mutex<Vec<ReceivedMail>>>,
    current: ReceivedMail,
}

impl Handler for Keeper {
    fn data_start(&mut self, _domain: &str, from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.current = ReceivedMail { from: from.to_string(), to: to.to_vec(), ..ReceivedMail::default() };
        OK
    }

    fn data(&mut self, buf: &[u8]) -> io::Result<()> {
        self.current.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        let mut mail = std::mem::take(&mut self.current);
        mail.arrived_at = Instant::now();
        self.received.lock().expect("the mailbox is never poisoned").push(mail);
        OK
    }

    fn helo(&mut self, _ip: IpAddr, _domain: &str) -> Response {
        OK
    }
}

impl SmtpSink {
    /// Starts a server on a free port of 127.0.0.1.
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
        let port = listener.local_addr().expect("a bound address").port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let mut server = Server::new(Keeper { received: received.clone(), current: ReceivedMail::default() });
        server.with_name("sink.test").with_num_threads(SESSIONS).with_ssl(SslConfig::None).expect("no TLS").with_tcp_listener(listener);
        std::thread::spawn(move || {
            let _ = server.serve();
        });
        Self { port, received }
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<ReceivedMail> {
        self.received.lock().expect("the mailbox is never poisoned").clone()
    }
}
