//! What workerd does where dosim's input gate once disagreed with it (zoo entry
//! `bcw-unawaited-init`): a `blockConcurrencyWhile` callback that starts an RPC and does not
//! await it ends its critical section at once, and the first request runs before the RPC is
//! answered; awaited, the request runs after it. Needs Node.js to install the pinned
//! workerd (skipped with a message otherwise); dosim's side is `tests/zoo.rs`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// workerd serving `tests/workerd/gates/config.capnp`, killed when dropped.
struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200").then(|| body.to_owned())
}

fn start() -> Option<Server> {
    let bin = match dosim::conformance::install_workerd() {
        Ok(bin) => bin,
        Err(why) => {
            println!("skipped: workerd is not available ({why})");
            return None;
        }
    };
    // A free loopback port: taken from the kernel, then handed to workerd.
    let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/workerd/gates/config.capnp");
    let child = Command::new(bin)
        .arg("serve")
        .arg(&config)
        .args(["--socket-addr", &format!("http=127.0.0.1:{port}")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start workerd");
    let server = Server { child, port };
    let t0 = Instant::now();
    while get(port, "/health").is_none() {
        assert!(t0.elapsed() < Duration::from_secs(20), "workerd did not answer within 20 s");
        std::thread::sleep(Duration::from_millis(100));
    }
    Some(server)
}

fn log(server: &Server, path: &str) -> Vec<String> {
    let body = get(server.port, path).unwrap_or_else(|| panic!("no answer to {path}"));
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {body}"))
}

#[test]
fn on_workerd_a_critical_section_ends_when_its_callback_settles() {
    let Some(server) = start() else { return };
    // Not awaited: the section ends with the callback, the request runs before the answer.
    assert_eq!(
        log(&server, "/bug"),
        ["rpc started", "section ended", "request runs, generation 0", "rpc answered"],
        "workerd 1.20261117.1"
    );
    // Awaited: the request waits for the section, which waits for the answer.
    assert_eq!(
        log(&server, "/fixed"),
        ["rpc started", "rpc answered", "section ended", "request runs, generation 7"],
        "workerd 1.20261117.1"
    );
}
