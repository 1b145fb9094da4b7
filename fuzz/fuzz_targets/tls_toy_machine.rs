//! Whole machines fed arbitrary input in arbitrary chunks: the toy STARTTLS server and client
//! must never panic, and the server must never start TLS with bytes pending behind STARTTLS.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use mailsec_tls::testing::toy::{ToyClient, ToyServer};
use mailsec_tls::{ClientTls, Machine, Output, ServerPolicy, TlsInfo};

fn drain<M: Machine>(machine: &mut M) -> (usize, bool) {
    let mut transmitted = 0;
    let mut start_tls = false;
    while let Some(output) = machine.poll_output() {
        match output {
            Output::Transmit(bytes) => transmitted += bytes.len(),
            Output::StartTls => start_tls = true,
            _ => {}
        }
    }
    (transmitted, start_tls)
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, input)) = data.split_first() else { return };
    let chunk = usize::from(control % 17) + 1;
    let now = Instant::now();
    let info = TlsInfo::for_testing("fuzz.example.test");

    let mut server = ToyServer::new(ServerPolicy::starttls_required());
    let mut client = ToyClient::new(if control & 0x80 == 0 {
        ClientTls::StartTlsRequired
    } else {
        ClientTls::StartTlsOpportunistic
    });
    drain(&mut server);
    for (i, piece) in input.chunks(chunk).enumerate() {
        server.handle_input(now, piece);
        let (_, started) = drain(&mut server);
        if started {
            // The cut: the rest of this piece was checked by the server before it agreed.
            server.handle_tls_established(now, &info);
            drain(&mut server);
        }
        client.handle_input(now, piece);
        let (_, started) = drain(&mut client);
        if started {
            client.handle_tls_established(now, &info);
            drain(&mut client);
        }
        if i % 5 == 4 {
            server.handle_timeout(now + Duration::from_secs(3600));
            drain(&mut server);
        }
    }
    server.handle_eof(now);
    client.handle_eof(now);
    drain(&mut server);
    drain(&mut client);
});
