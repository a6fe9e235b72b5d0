//! Wildcard matching: actions, resources, `StringLike` values and the parts of ARNs.
//!
//! IAM has exactly two wildcards: `*` (any run of characters, possibly empty, including `:` and
//! `/`) and `?` (exactly one character). That is small enough to match in place with the classic
//! greedy algorithm that remembers only the last `*` — no regex compilation, no allocation, and
//! worst case O(pattern × text) on inputs that are a few hundred bytes at most. This runs for
//! every statement of every policy on every KMS request, so it matters.
//!
//! A pattern is anything implementing [`Glob`]: plain policy text ([`Wild`], where `*` and `?`
//! are wildcards) or the token list produced by policy-variable substitution (`[Tok]`), where a
//! `*` that came from `${*}` or from a substituted value is a literal and must not act as a
//! wildcard. Matching works on bytes; `?` and the backtracking after `*` advance over whole UTF-8
//! characters, so a `?` matches one character, not one byte.

/// One pattern element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tok {
    /// A literal byte.
    Lit(u8),
    /// `*`: any run of characters.
    Star,
    /// `?`: exactly one character.
    One,
}

/// A wildcard pattern, indexable by position.
pub(crate) trait Glob: Copy {
    fn len(self) -> usize;
    fn tok(self, i: usize) -> Tok;
    /// The sub-pattern `[from, to)`.
    fn sub(self, from: usize, to: usize) -> Self;
}

/// Policy text in which `*` and `?` are wildcards.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Wild<'a>(pub &'a [u8]);

impl<'a> Wild<'a> {
    pub(crate) fn new(s: &'a str) -> Wild<'a> {
        Wild(s.as_bytes())
    }
}

impl Glob for Wild<'_> {
    fn len(self) -> usize {
        self.0.len()
    }
    fn tok(self, i: usize) -> Tok {
        match self.0[i] {
            b'*' => Tok::Star,
            b'?' => Tok::One,
            b => Tok::Lit(b),
        }
    }
    fn sub(self, from: usize, to: usize) -> Self {
        Wild(&self.0[from..to])
    }
}

impl Glob for &[Tok] {
    fn len(self) -> usize {
        <[Tok]>::len(self)
    }
    fn tok(self, i: usize) -> Tok {
        self[i]
    }
    fn sub(self, from: usize, to: usize) -> Self {
        &self[from..to]
    }
}

/// Length of the UTF-8 sequence that starts with `b` (1 for a stray continuation byte, which a
/// `&str` never starts a character with).
fn char_len(b: u8) -> usize {
    match b {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

/// Does `pat` match the whole of `text`? `ascii_ci` compares literals ASCII-case-insensitively
/// (action names); everything else in IAM matches case-sensitively.
pub(crate) fn glob_match<P: Glob>(pat: P, text: &str, ascii_ci: bool) -> bool {
    let t = text.as_bytes();
    let plen = pat.len();
    if plen == 1 && pat.tok(0) == Tok::Star {
        return true;
    }
    let (mut p, mut i) = (0usize, 0usize);
    // Position after the last `*` seen, and the text position that `*` currently extends to.
    let mut backtrack: Option<(usize, usize)> = None;
    while i < t.len() {
        if p < plen {
            match pat.tok(p) {
                Tok::Star => {
                    p += 1;
                    backtrack = Some((p, i));
                    continue;
                }
                Tok::One => {
                    p += 1;
                    i += char_len(t[i]);
                    continue;
                }
                Tok::Lit(b) if b == t[i] || (ascii_ci && b.eq_ignore_ascii_case(&t[i])) => {
                    p += 1;
                    i += 1;
                    continue;
                }
                Tok::Lit(_) => {}
            }
        }
        // Mismatch (or pattern exhausted): let the last `*` swallow one more character.
        match backtrack {
            Some((bp, bi)) => {
                let ni = bi + char_len(t[bi]);
                backtrack = Some((bp, ni));
                p = bp;
                i = ni;
            }
            None => return false,
        }
    }
    while p < plen && pat.tok(p) == Tok::Star {
        p += 1;
    }
    p == plen
}

/// ARN matching for the `Arn*` condition operators: both sides are split into the six
/// `:`-separated ARN parts (the sixth, the resource, may itself contain `:`), and each part is
/// glob-matched case-sensitively, so a `*` never spans a part boundary except inside the
/// resource part. A pattern or value that does not have six parts matches nothing.
pub(crate) fn arn_match<P: Glob>(pat: P, text: &str) -> bool {
    let mut parts = text.splitn(6, ':');
    let mut start = 0;
    for index in 0..6 {
        let Some(value_part) = parts.next() else {
            return false;
        };
        let end = if index == 5 {
            pat.len()
        } else {
            match (start..pat.len()).find(|&i| pat.tok(i) == Tok::Lit(b':')) {
                Some(e) => e,
                None => return false,
            }
        };
        if !glob_match(pat.sub(start, end), value_part, false) {
            return false;
        }
        start = end + 1;
    }
    true
}

/// `Action` / `NotAction` entry against a request action: glob, ASCII case-insensitive.
pub(crate) fn action_match(pattern: &str, action: &str) -> bool {
    glob_match(Wild::new(pattern), action, true)
}

/// Case-insensitive string equality for `StringEqualsIgnoreCase`: ASCII fast path, Unicode
/// lower-casing (without allocating) otherwise.
pub(crate) fn eq_ignore_case(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        return a.eq_ignore_ascii_case(b);
    }
    a.chars().flat_map(char::to_lowercase).eq(b.chars().flat_map(char::to_lowercase))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_table() {
        // (pattern, text, ascii_ci, expected)
        let table: &[(&str, &str, bool, bool)] = &[
            ("*", "", false, true),
            ("*", "anything:at/all", false, true),
            ("", "", false, true),
            ("", "a", false, false),
            ("a", "", false, false),
            ("abc", "abc", false, true),
            ("abc", "abd", false, false),
            ("abc", "ABC", false, false),
            ("abc", "ABC", true, true),
            ("a*", "a", false, true),
            ("a*c", "abbbc", false, true),
            ("a*c", "abbbd", false, false),
            ("a*b*c", "aXbYbZc", false, true),
            ("a*b*c", "aXcYb", false, false),
            ("*c", "cccc", false, true),
            ("a?c", "abc", false, true),
            ("a?c", "ac", false, false),
            ("a?c", "abbc", false, false),
            ("a?c", "aéc", false, true),
            ("?", "é", false, true),
            ("??", "é", false, false),
            ("é*", "éa", false, true),
            ("*é", "aaé", false, true),
            ("**", "x", false, true),
            ("a**b", "ab", false, true),
            ("*?", "", false, false),
            ("*?", "x", false, true),
            ("kms:Create*", "kms:CreateKey", false, true),
            ("kms:create*", "KMS:CreateKey", true, true),
            ("arn:aws:kms:*:111:key/*", "arn:aws:kms:us-east-1:111:key/abc", false, true),
            ("arn:aws:kms:*:111:key/*", "arn:aws:kms:us-east-1:222:key/abc", false, false),
            ("arn:*", "arn:aws:kms:us-east-1:111:key/a:b/c", false, true),
        ];
        for (pat, text, ci, want) in table {
            assert_eq!(glob_match(Wild::new(pat), text, *ci), *want, "glob {pat:?} ~ {text:?} (ci={ci})");
        }
    }

    #[test]
    fn literal_tokens_are_not_wildcards() {
        let toks = [Tok::Lit(b'a'), Tok::Lit(b'*')];
        assert!(glob_match(&toks[..], "a*", false));
        assert!(!glob_match(&toks[..], "ab", false));
        let toks = [Tok::Lit(b'a'), Tok::Star];
        assert!(glob_match(&toks[..], "ab", false));
    }

    #[test]
    fn arn_table() {
        let table: &[(&str, &str, bool)] = &[
            ("arn:aws:iam::111111111111:user/a", "arn:aws:iam::111111111111:user/a", true),
            ("arn:aws:iam::*:user/a", "arn:aws:iam::111111111111:user/a", true),
            ("arn:*:iam::111111111111:user/a", "arn:aws-cn:iam::111111111111:user/a", true),
            ("arn:aws:*::111111111111:user/a", "arn:aws:sts::111111111111:user/a", true),
            ("arn:aws:kms:*:111111111111:key/*", "arn:aws:kms:eu-west-1:111111111111:key/k", true),
            ("arn:aws:kms:us-*:111111111111:key/*", "arn:aws:kms:eu-west-1:111111111111:key/k", false),
            ("arn:aws:iam::111111111111:*", "arn:aws:iam::111111111111:role/x:y", true),
            // `*` in one part cannot swallow a `:` of the next.
            ("arn:aws:iam:*:user/a", "arn:aws:iam::111111111111:user/a", false),
            ("arn:aws:iam::1111111111??:user/a", "arn:aws:iam::111111111122:user/a", true),
            ("arn:aws:iam::111111111111:user/A", "arn:aws:iam::111111111111:user/a", false),
            ("*", "arn:aws:iam::111111111111:user/a", false),
            ("arn:aws:iam::111111111111:user/a", "not-an-arn", false),
        ];
        for (pat, text, want) in table {
            assert_eq!(arn_match(Wild::new(pat), text), *want, "arn {pat:?} ~ {text:?}");
        }
    }

    #[test]
    fn ignore_case() {
        assert!(eq_ignore_case("AbC", "aBc"));
        assert!(eq_ignore_case("ÉTÉ", "été"));
        assert!(!eq_ignore_case("abc", "abd"));
    }
}
