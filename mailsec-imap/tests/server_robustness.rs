//! The fuzz target's invariants for the IMAP server machine (`support/server_fuzz.rs`, shared
//! with `fuzz/fuzz_targets/imap_server.rs`) checked by `cargo test` over fixed scripts in every
//! control byte and over pseudo-random command soup.

#[path = "support/server_fuzz.rs"]
mod server_fuzz;

use server_fuzz::run;

#[test]
fn smoke() {
    let scripts: [&[u8]; 6] = [
        b"a STARTTLS\r\nb LOGIN x yy\r\nc SELECT INBOX\r\n",
        b"a LOGIN alice ss\r\nb SELECT INBOX\r\nc FETCH 1:* (ENVELOPE BODYSTRUCTURE BODY[] BINARY[2] BODY[1.MIME])\r\nd IDLE\r\nDONE\r\ne SEARCH TEXT body\r\nf STORE 1 +FLAGS (\\Deleted)\r\ng EXPUNGE\r\nh LOGOUT\r\n",
        b"a AUTHENTICATE PLAIN\r\nAHgAeXk=\r\nb LIST \"\" *\r\nc APPEND INBOX {3}\r\nabc\r\nd MOVE 1 Nope\r\n",
        b"a LOGIN {2}\r\nxx {2}\r\nyy\r\nb CREATE a/b\r\nc RENAME a z\r\nd STATUS z/b (MESSAGES SIZE)\r\n",
        b"\x00\xff\r\n{99999999999999999999}\r\n* * *\r\n",
        b"a LOGIN alice ss\r\nb SELECT INBOX\r\nc UID FETCH 1:* BODY.PEEK[]<1.3>\r\nd COPY 2 INBOX\r\n",
    ];
    for s in scripts {
        for control in 0..=255u8 {
            let mut d = vec![control];
            d.extend_from_slice(s);
            run(&d);
        }
    }
    // Random-ish inputs.
    let mut x: u64 = 12345;
    for _ in 0..3000 {
        let mut d = Vec::new();
        for _ in 0..(x % 300) {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let words: [&[u8]; 12] = [
                b"a ",
                b"LOGIN ",
                b"alice ss",
                b"\r\n",
                b"SELECT INBOX",
                b"FETCH 1:* (BODY[] FLAGS)",
                b"{3}\r\n",
                b"IDLE",
                b"DONE",
                b"STARTTLS",
                b"AUTHENTICATE PLAIN",
                b"*",
            ];
            d.extend_from_slice(words[(x >> 33) as usize % 12]);
        }
        run(&d);
    }
}
