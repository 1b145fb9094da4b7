//! Feeds arbitrary server challenges to every SASL client exchange.
//!
//! Byte 0 picks the mechanism (low 3 bits) and whether the initial response is sent (bit 3);
//! the rest is split at 0xFF into challenges, the last piece being the success's additional
//! data. Checks that nothing panics and that a SCRAM client never accepts a success it cannot
//! verify.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailsec_tls::sasl::{ClientExchange, CredentialKind, Credentials, Mechanism};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let mechanism = Mechanism::ALL[usize::from(selector & 7) % Mechanism::ALL.len()];
    let mut client = match mechanism.credential_kind() {
        CredentialKind::Password if mechanism == Mechanism::ScramSha256 => {
            ClientExchange::scram_with_nonce(
                Credentials::password("user", "pencil"),
                "fyko+d2lbbFgONRv9qkxdawL",
            )
            .unwrap()
        }
        CredentialKind::Password => {
            ClientExchange::new(mechanism, Credentials::password("tim", "tanstaaf")).unwrap()
        }
        _ => ClientExchange::new(
            mechanism,
            Credentials::bearer_token("tim", "good").with_host("h", 993),
        )
        .unwrap(),
    };
    if selector & 0x08 != 0 {
        let _ = client.initial_response();
    }
    let pieces: Vec<&[u8]> = rest.split(|&b| b == 0xff).collect();
    let (last, challenges) = pieces
        .split_last()
        .expect("split yields at least one piece");
    for challenge in challenges {
        if client.step(challenge).is_err() {
            break;
        }
    }
    let finished = client.finish(Some(last).filter(|l| !l.is_empty()).copied());
    if mechanism == Mechanism::ScramSha256 {
        assert!(
            finished.is_err(),
            "SCRAM client accepted an unverifiable server"
        );
    }
});
