//! Character classes of RFC 9051 §9 (shared by the types' validators and the parser).

/// `CTL`: %x00-1F / %x7F.
pub(crate) const fn is_ctl(b: u8) -> bool {
    b < 0x20 || b == 0x7f
}

/// `ATOM-CHAR`: any 7-bit `CHAR` except `atom-specials` = `(` `)` `{` SP CTL `%` `*` `"` `\` `]`.
pub(crate) const fn is_atom_char(b: u8) -> bool {
    b.is_ascii()
        && !is_ctl(b)
        && !matches!(
            b,
            b'(' | b')' | b'{' | b' ' | b'%' | b'*' | b'"' | b'\\' | b']'
        )
}

/// `ASTRING-CHAR`: `ATOM-CHAR` / `resp-specials` (`]`).
pub(crate) const fn is_astring_char(b: u8) -> bool {
    is_atom_char(b) || b == b']'
}

/// `tag` octet: `ASTRING-CHAR` except `+`.
pub(crate) const fn is_tag_char(b: u8) -> bool {
    is_astring_char(b) && b != b'+'
}

/// `list-char`: `ATOM-CHAR` / `list-wildcards` (`%` `*`) / `resp-specials` (`]`).
pub(crate) const fn is_list_char(b: u8) -> bool {
    is_astring_char(b) || b == b'%' || b == b'*'
}

/// Whether `b` can appear (escaped or not) inside a quoted string: not CR, LF or NUL.
pub(crate) const fn is_quotable(b: u8) -> bool {
    b != 0 && b != b'\r' && b != b'\n'
}
