//! The IMAP framer fed arbitrary bytes in arbitrary chunks, with random literal decisions.
//!
//! Input layout: byte 0 picks the side, authentication, the bare-LF quirk, NUL in literals and
//! the non-synchronizing literal policy; bytes 1–7 the limits (line, literal, message, literal
//! count, tag, pending input); byte 8 seeds chunk sizes and decisions; the rest is the stream.
//!
//! Invariants: no panic; after every push and drain the framer keeps at most `max_message`
//! bytes of the current message and at most one unexamined byte (a CR) unless a decision is
//! pending, and then no more than `max_buffered` or the last chunk; the buffer's allocation
//! stays bounded; a refused push changes nothing; every message ends with CRLF, fits the
//! message limit (plus the CRs the bare-LF quirk inserts), and when no literal was announced
//! for it, holds no CR, LF or NUL before its final CRLF; a decision is asked for exactly on
//! the server side for synchronizing literals; and when decisions are made at once and no push
//! was refused, the chunked run gives exactly what one push of the whole stream gives.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailsec_imap::framing::{Frame, Framer, FramerConfig, FramingError, PhaseLimits, Side};

struct Run {
    items: Vec<Result<Frame, FramingError>>,
    comparable: bool,
    /// Decisions may be left pending (then runs are not comparable).
    defer: bool,
    seed: u8,
}

fn next_seed(seed: &mut u8) -> u8 {
    *seed ^= *seed << 3;
    *seed ^= *seed >> 5;
    *seed ^= *seed << 1;
    *seed
}

/// The decision for the `n`th synchronizing literal of this size: the same in every run.
fn accept(size: u64, n: usize) -> bool {
    !(size + n as u64).is_multiple_of(3)
}

fn drain(framer: &mut Framer, config: &FramerConfig, run: &mut Run, announced: &mut usize) {
    while let Some(item) = framer.next_frame() {
        match &item {
            Ok(Frame::LiteralAnnounced {
                non_sync,
                needs_decision,
                ..
            }) => {
                assert_eq!(
                    *needs_decision,
                    config.side == Side::Server && !non_sync,
                    "decision asked wrongly"
                );
                assert_eq!(framer.is_awaiting_decision(), *needs_decision);
                *announced += 1;
            }
            Ok(Frame::Message(message)) => {
                assert!(message.ends_with(b"\r\n"), "no CRLF at the end");
                let limits = framer.limits();
                let slack = limits.max_literals as u64 + 1;
                assert!(message.len() as u64 <= limits.max_message.max(2) + slack);
                if *announced == 0 {
                    let body = &message[..message.len() - 2];
                    assert!(
                        !body.iter().any(|&b| matches!(b, b'\r' | b'\n' | 0)),
                        "CR, LF or NUL in a line"
                    );
                }
                *announced = 0;
            }
            Err(FramingError::BufferFull { .. }) => panic!("BufferFull from next_frame"),
            Err(_) => *announced = 0,
            Ok(_) => {}
        }
        let decide = matches!(
            item,
            Ok(Frame::LiteralAnnounced {
                needs_decision: true,
                ..
            })
        );
        run.items.push(item);
        if decide && !decide_pending(framer, run, announced) {
            return;
        }
    }
}

/// Accepts or rejects the pending literal (the last item), or, when decisions may be deferred,
/// now and then leaves it pending so more input piles up. Returns whether it decided.
fn decide_pending(framer: &mut Framer, run: &mut Run, announced: &mut usize) -> bool {
    if run.defer && next_seed(&mut run.seed) & 1 == 0 {
        run.comparable = false;
        return false;
    }
    let n = run.items.len() - 1;
    let size = match run.items.last() {
        Some(Ok(Frame::LiteralAnnounced { size, .. })) => *size,
        other => panic!("awaiting a decision after {other:?}"),
    };
    if accept(size, n) {
        framer.accept_literal().expect("pending");
    } else {
        framer.reject_literal().expect("pending");
        *announced = 0;
    }
    true
}

fuzz_target!(|data: &[u8]| {
    let [
        flags,
        line,
        literal,
        message,
        count,
        tag,
        buffered,
        mut seed,
        ref input @ ..,
    ] = *data
    else {
        return;
    };
    let mut config = if flags & 1 == 0 {
        FramerConfig::server()
    } else {
        FramerConfig::client()
    };
    let limits = phase_limits(line, literal, message, count);
    config.before_auth = limits;
    config.after_auth = limits;
    config.max_tag = usize::from(tag % 16) + 1;
    config.max_buffered = usize::from(buffered) * 2;
    config.bare_lf_line_end = flags & 4 != 0;
    config.allow_nul_in_text_literals = flags & 8 != 0;
    config.max_non_sync_literal = match (flags >> 4) & 3 {
        0 => None,
        1 => Some(4096),
        2 => Some(8),
        _ => Some(u64::MAX),
    };
    let authenticated = flags & 2 != 0;
    let max_message = usize::from(message) * 16 + 16;
    let memory_bound = (1 << 17) + 4 * (max_message + config.max_buffered + 256);

    let mut framer = Framer::new(config.clone());
    framer.set_authenticated(authenticated);
    let mut run = Run {
        items: Vec::new(),
        comparable: true,
        defer: flags & 0x40 != 0,
        seed: seed | 1,
    };
    let mut announced = 0;
    let mut rest = input;
    while !rest.is_empty() {
        let size = usize::from(next_seed(&mut seed) % 64) + 1;
        let (chunk, tail) = rest.split_at(size.min(rest.len()));
        rest = tail;
        let before = framer.buffered();
        match framer.push(chunk) {
            Ok(()) => {}
            Err(FramingError::BufferFull { limit }) => {
                assert_eq!(limit, config.max_buffered);
                assert!(framer.is_awaiting_decision());
                assert_eq!(framer.buffered(), before, "a refused push took bytes");
                run.comparable = false;
            }
            Err(other) => panic!("push returned {other:?}"),
        }
        if !framer.is_awaiting_decision() || decide_pending(&mut framer, &mut run, &mut announced) {
            drain(&mut framer, &config, &mut run, &mut announced);
        }
        let unexamined = framer.unexamined();
        if framer.is_awaiting_decision() {
            assert!(
                unexamined <= config.max_buffered.max(64 + 1),
                "{unexamined}"
            );
        } else if !framer.is_failed() {
            assert!(unexamined <= 1, "{unexamined} unexamined after draining");
        }
        let kept = framer.buffered() - unexamined;
        assert!(kept <= max_message, "{kept} kept");
        assert!(
            framer.capacity() <= memory_bound,
            "capacity {}",
            framer.capacity()
        );
    }

    if run.comparable {
        let mut whole = Framer::new(config.clone());
        whole.set_authenticated(authenticated);
        let mut expected = Run {
            items: Vec::new(),
            comparable: true,
            defer: false,
            seed: 1,
        };
        let mut announced = 0;
        whole
            .push(input)
            .expect("nothing pending before the first push");
        drain(&mut whole, &config, &mut expected, &mut announced);
        assert_eq!(run.items, expected.items);
        assert_eq!(framer.is_failed(), whole.is_failed());
        assert_eq!(framer.is_discarding(), whole.is_discarding());
    }
});

fn phase_limits(line: u8, literal: u8, message: u8, count: u8) -> PhaseLimits {
    PhaseLimits {
        max_line: usize::from(line) + 2,
        max_literal: u64::from(literal) * 4,
        max_message: u64::from(message) * 16 + 16,
        max_literals: usize::from(count % 8),
    }
}
