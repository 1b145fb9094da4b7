//! The futures-io driver over real loopback sockets, under tokio and under smol.

use std::time::Duration;

use mailsec_tls::driver::{Driver, DriverError, SmolTimer, TokioTimer};
use mailsec_tls::testing::TestPki;
use mailsec_tls::testing::toy::{ToyClient, ToyError, ToyEvent, ToyServer};
use mailsec_tls::{ClientTls, ServerPolicy, TlsSetup, TlsVersion};
use tokio_util::compat::TokioAsyncReadCompatExt;

/// Drives a client through login and quit; returns every event it saw.
async fn client_session<S, T>(mut driver: Driver<ToyClient, S, T>) -> Vec<ToyEvent>
where
    S: futures_io::AsyncRead + futures_io::AsyncWrite + Unpin,
    T: mailsec_tls::driver::Timer,
{
    let mut seen = Vec::new();
    while let Some(event) = driver.next_event().await.expect("client session") {
        match &event {
            ToyEvent::Ready => {
                assert!(driver.is_secure());
                assert_eq!(
                    driver.tls_info().map(|i| i.version),
                    Some(TlsVersion::Tls13)
                );
                driver.machine_mut().send_line("LOGIN alice s3cret");
            }
            ToyEvent::Line(line) if line.starts_with("OK welcome") => {
                driver.machine_mut().send_line("ECHO hello over TLS");
            }
            ToyEvent::Line(line) if line.starts_with("ECHO") => {
                driver.machine_mut().send_line("QUIT");
            }
            _ => {}
        }
        seen.push(event);
    }
    seen
}

async fn server_session<S, T>(mut driver: Driver<ToyServer, S, T>) -> Vec<ToyEvent>
where
    S: futures_io::AsyncRead + futures_io::AsyncWrite + Unpin,
    T: mailsec_tls::driver::Timer,
{
    let mut seen = Vec::new();
    while let Some(event) = driver.next_event().await.expect("server session") {
        seen.push(event);
    }
    seen
}

const SERVER_EVENTS: [fn(&ToyEvent) -> bool; 4] = [
    |e| *e == ToyEvent::Secured,
    |e| {
        *e == ToyEvent::LoggedIn {
            user: "alice".into(),
        }
    },
    |e| *e == ToyEvent::Echoed("hello over TLS".into()),
    |e| *e == ToyEvent::Closed,
];

fn assert_server_events(events: &[ToyEvent]) {
    assert_eq!(events.len(), SERVER_EVENTS.len(), "{events:?}");
    for (event, check) in events.iter().zip(SERVER_EVENTS) {
        assert!(check(event), "{events:?}");
    }
}

#[tokio::test]
async fn tokio_starttls_session() {
    let pki = TestPki::new("localhost");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server_tls = pki.server_setup();
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.expect("accept");
        let machine = ToyServer::new(ServerPolicy::starttls_required());
        server_session(Driver::new(
            machine,
            stream.compat(),
            TokioTimer,
            Some(server_tls),
        ))
        .await
    });
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let machine = ToyClient::new(ClientTls::StartTlsRequired);
    let client = client_session(Driver::new(
        machine,
        stream.compat(),
        TokioTimer,
        Some(pki.client_setup()),
    ))
    .await;
    assert!(client.contains(&ToyEvent::Secured));
    assert!(client.contains(&ToyEvent::Line("ECHO hello over TLS".into())));
    assert_eq!(client.last(), Some(&ToyEvent::Closed));
    assert_server_events(&server.await.expect("server task"));
}

#[tokio::test]
async fn tokio_implicit_tls_session() {
    let pki = TestPki::new("localhost");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server_tls = pki.server_setup();
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.expect("accept");
        let machine = ToyServer::new(ServerPolicy::implicit_tls());
        let driver = Driver::implicit_tls(machine, stream.compat(), TokioTimer, server_tls)
            .expect("server tls");
        server_session(driver).await
    });
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let driver = Driver::implicit_tls(
        ToyClient::new(ClientTls::Implicit),
        stream.compat(),
        TokioTimer,
        pki.client_setup(),
    )
    .expect("client tls");
    let client = client_session(driver).await;
    assert!(client.contains(&ToyEvent::Ready));
    assert_server_events(&server.await.expect("server task"));
}

#[tokio::test]
async fn tokio_deadline_fires_while_both_sides_are_idle() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.expect("accept");
        let mut machine = ToyServer::new(ServerPolicy::insecure_plaintext())
            .with_idle_timeout(Duration::from_millis(200));
        machine.start_clock(std::time::Instant::now());
        let mut driver = Driver::new(machine, stream.compat(), TokioTimer, None);
        loop {
            match driver.next_event().await {
                Ok(Some(_)) => continue,
                Ok(None) => panic!("server ended without the timeout error"),
                Err(err) => return err,
            }
        }
    });
    // A client that connects and says nothing.
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let err = tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("the deadline fired")
        .expect("server task");
    assert!(
        matches!(err, DriverError::Machine(ToyError::Timeout)),
        "{err:?}"
    );
    // The server's last words reached the client before the close.
    let mut received = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut received)
        .await
        .expect("read");
    assert_eq!(received, b"* OK toy ready\r\nBYE idle too long\r\n");
}

#[tokio::test]
async fn tokio_wrong_name_is_a_typed_tls_error() {
    let pki = TestPki::new("localhost");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server_tls = pki.server_setup();
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.expect("accept");
        let machine = ToyServer::new(ServerPolicy::starttls_required());
        let mut driver = Driver::new(machine, stream.compat(), TokioTimer, Some(server_tls));
        let mut result = Ok(None);
        for _ in 0..16 {
            result = driver.next_event().await;
            if !matches!(result, Ok(Some(_))) {
                break;
            }
        }
        result.map(|_| ())
    });
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let tls = TlsSetup::Client {
        config: pki.client_config(),
        server_name: "imap.other.test".into(),
    };
    let mut driver = Driver::new(
        ToyClient::new(ClientTls::StartTlsRequired),
        stream.compat(),
        TokioTimer,
        Some(tls),
    );
    let err = loop {
        match driver.next_event().await {
            Ok(Some(ToyEvent::Ready)) => panic!("ready over an unverified connection"),
            Ok(Some(_)) => {}
            Ok(None) => panic!("ended without an error"),
            Err(err) => break err,
        }
    };
    assert!(
        matches!(
            err,
            DriverError::Tls(mailsec_tls::TlsError::Certificate(
                mailsec_tls::CertificateProblem::NameMismatch { .. }
            ))
        ),
        "{err:?}"
    );
    assert!(
        server.await.expect("server task").is_err(),
        "server sees the aborted handshake"
    );
}

#[test]
fn smol_starttls_session() {
    smol::block_on(async {
        let pki = TestPki::new("localhost");
        let listener = smol::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server_tls = pki.server_setup();
        let server = smol::spawn(async move {
            let (stream, _) = listener.accept().await.expect("accept");
            let machine = ToyServer::new(ServerPolicy::starttls_required());
            server_session(Driver::new(machine, stream, SmolTimer, Some(server_tls))).await
        });
        let stream = smol::net::TcpStream::connect(addr).await.expect("connect");
        let machine = ToyClient::new(ClientTls::StartTlsRequired);
        let client = client_session(Driver::new(
            machine,
            stream,
            SmolTimer,
            Some(pki.client_setup()),
        ))
        .await;
        assert!(client.contains(&ToyEvent::Secured));
        assert_eq!(client.last(), Some(&ToyEvent::Closed));
        assert_server_events(&server.await);
    });
}

#[test]
fn smol_deadline_fires() {
    smol::block_on(async {
        let listener = smol::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = smol::spawn(async move {
            let (stream, _) = listener.accept().await.expect("accept");
            let mut machine = ToyServer::new(ServerPolicy::insecure_plaintext())
                .with_idle_timeout(Duration::from_millis(100));
            machine.start_clock(std::time::Instant::now());
            let mut driver = Driver::new(machine, stream, SmolTimer, None);
            loop {
                match driver.next_event().await {
                    Ok(Some(_)) => continue,
                    Ok(None) => return None,
                    Err(err) => return Some(err),
                }
            }
        });
        let _client = smol::net::TcpStream::connect(addr).await.expect("connect");
        let err = server.await;
        assert!(
            matches!(err, Some(DriverError::Machine(ToyError::Timeout))),
            "{err:?}"
        );
    });
}

/// A machine with a large answer queued at once: 256 lines of 1 KiB, then close.
struct Bulk {
    remaining: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    closed: bool,
}

impl mailsec_tls::Machine for Bulk {
    type Event = ();
    type Error = std::io::Error;
    fn handle_input(&mut self, _: std::time::Instant, _: &[u8]) {}
    fn handle_eof(&mut self, _: std::time::Instant) {}
    fn handle_timeout(&mut self, _: std::time::Instant) {}
    fn handle_tls_established(&mut self, _: std::time::Instant, _: &mailsec_tls::TlsInfo) {}
    fn poll_output(&mut self) -> Option<mailsec_tls::Output<(), std::io::Error>> {
        use std::sync::atomic::Ordering;
        let left = self.remaining.load(Ordering::SeqCst);
        if left > 0 {
            self.remaining.store(left - 1, Ordering::SeqCst);
            let mut line = vec![b'x'; 1022];
            line.extend_from_slice(b"\r\n");
            return Some(mailsec_tls::Output::Transmit(line.into()));
        }
        if self.closed {
            return None;
        }
        self.closed = true;
        Some(mailsec_tls::Output::Close)
    }
    fn poll_timeout(&self) -> Option<std::time::Instant> {
        None
    }
}

#[tokio::test]
async fn driver_takes_output_only_as_fast_as_the_peer_reads() {
    use std::sync::atomic::Ordering;
    let (ours, mut theirs) = tokio::io::duplex(1024);
    let remaining = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(256));
    let machine = Bulk {
        remaining: remaining.clone(),
        closed: false,
    };
    let mut driver = Driver::new(machine, ours.compat(), TokioTimer, None);
    driver.set_max_pending_wire(4096);
    let session = tokio::spawn(async move { driver.next_event().await.map(|_| ()) });

    // Nobody reads yet: the driver holds at most its bound plus what the pipe buffers.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let taken = 256 - remaining.load(Ordering::SeqCst);
    assert!(
        (4..=8).contains(&taken),
        "took {taken} KiB from the machine with nobody reading"
    );

    let mut received = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(&mut theirs, &mut received)
        .await
        .expect("read");
    assert_eq!(received.len(), 256 * 1024, "nothing lost");
    assert_eq!(remaining.load(Ordering::SeqCst), 0);
    session.await.expect("driver task").expect("orderly end");
}
