//! Policy variables: `${key}` placeholders in `Resource` / `NotResource` entries and in the
//! values of string, `Bool` and ARN conditions.
//!
//! Rules (AWS's, as documented):
//! - Only documents with `"Version": "2012-10-17"` have variables; under `2008-10-17` or without
//!   a Version, `${...}` is literal text.
//! - `${key}` is replaced by the request's value for the condition key `key` (looked up
//!   case-insensitively; the first value if the key has several).
//! - `${key, 'default'}` uses `default` when the key is absent (spaces around the key and the
//!   quoted default are ignored; the default itself is case-sensitive and used verbatim).
//! - `${*}`, `${?}` and `${$}` stand for a literal `*`, `?` and `$`.
//! - A variable that cannot be resolved (absent key, no default; or a malformed reference)
//!   makes the whole entry match nothing.
//! - Substituted text is always literal: a `*` inside a user name or tag value, or produced by
//!   `${*}`, is not a wildcard. That is why substitution yields [`Tok`]s rather than a string.
//!
//! Entries without `${` (nearly all of them) are used in place, without allocating.

use std::borrow::Cow;

use crate::eval::Context;
use crate::matching::{Glob, Tok, Wild, arn_match, glob_match};

/// A policy entry after variable substitution.
#[derive(Debug)]
pub(crate) enum Expanded<'a> {
    /// No variables: the entry as written (`*` and `?` are wildcards where wildcards apply).
    Plain(&'a str),
    /// Substituted: literal bytes and the wildcards written outside variables.
    Subst(Vec<Tok>),
}

impl Expanded<'_> {
    /// Whole-string wildcard match (`StringLike`, `Resource`).
    pub(crate) fn glob(&self, text: &str) -> bool {
        match self {
            Expanded::Plain(p) => glob_match(Wild::new(p), text, false),
            Expanded::Subst(toks) => glob_match(&toks[..], text, false),
        }
    }

    /// Part-wise ARN match (`Arn*` operators).
    pub(crate) fn arn(&self, text: &str) -> bool {
        match self {
            Expanded::Plain(p) => arn_match(Wild::new(p), text),
            Expanded::Subst(toks) => arn_match(&toks[..], text),
        }
    }

    /// The entry as text, for operators without wildcards (where `*` is just a character).
    pub(crate) fn text(&self) -> Cow<'_, str> {
        match self {
            Expanded::Plain(p) => Cow::Borrowed(p),
            Expanded::Subst(toks) => {
                let bytes: Vec<u8> = toks
                    .iter()
                    .map(|t| match *t {
                        Tok::Lit(b) => b,
                        Tok::Star => b'*',
                        Tok::One => b'?',
                    })
                    .collect();
                // The bytes are whole UTF-8 sequences taken from `&str`s, so this never replaces.
                Cow::Owned(String::from_utf8_lossy(&bytes).into_owned())
            }
        }
    }
}

/// Substitutes the variables of `entry` (when `enabled`, i.e. the document is version
/// 2012-10-17). `None` when a variable cannot be resolved: the entry then matches nothing.
pub(crate) fn expand<'a>(entry: &'a str, ctx: &Context, enabled: bool) -> Option<Expanded<'a>> {
    if !enabled || !entry.contains("${") {
        return Some(Expanded::Plain(entry));
    }
    let bytes = entry.as_bytes();
    let mut out = Vec::with_capacity(entry.len() + 32);
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'$'
            && bytes.get(i + 1) == Some(&b'{')
            && let Some(len) = reference_len(&entry[i + 2..])
        {
            let inner = &entry[i + 2..i + 2 + len];
            resolve(inner, ctx, &mut out)?;
            i += 2 + len + 1;
            continue;
        }
        out.push(Wild(bytes).tok(i));
        i += 1;
    }
    Some(Expanded::Subst(out))
}

/// Length of the reference body up to (not including) its closing `}`, skipping over a quoted
/// default; `None` if the reference is never closed (then `${` is literal text).
fn reference_len(rest: &str) -> Option<usize> {
    let mut quoted = false;
    for (i, b) in rest.bytes().enumerate() {
        match b {
            b'\'' => quoted = !quoted,
            b'}' if !quoted => return Some(i),
            _ => {}
        }
    }
    None
}

/// Appends the value of one `${...}` body as literal tokens.
fn resolve(inner: &str, ctx: &Context, out: &mut Vec<Tok>) -> Option<()> {
    let (key, default) = match inner.split_once(',') {
        Some((k, d)) => {
            let d = d.trim();
            let d = d.strip_prefix('\'').and_then(|d| d.strip_suffix('\''))?;
            (k.trim(), Some(d))
        }
        None => (inner.trim(), None),
    };
    let value: &str = match key {
        "*" | "?" | "$" => key,
        "" => return None,
        _ => match ctx.get(key).and_then(<[String]>::first) {
            Some(v) => v,
            None => default?,
        },
    };
    out.extend(value.bytes().map(Tok::Lit));
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Context {
        let mut c = Context::new();
        c.set("aws:username", "alice");
        c.set("aws:PrincipalTag/team", "a*b");
        c.set_all("multi", vec!["first".into(), "second".into()]);
        c
    }

    #[test]
    fn expansion_table() {
        // (entry, enabled, Some(text) | None for unresolved)
        let table: &[(&str, bool, Option<&str>)] = &[
            ("plain", true, Some("plain")),
            ("user/${aws:username}", true, Some("user/alice")),
            ("user/${aws:username}", false, Some("user/${aws:username}")),
            ("user/${AWS:UserName}", true, Some("user/alice")),
            ("${aws:PrincipalTag/team}", true, Some("a*b")),
            ("${multi}", true, Some("first")),
            ("${missing}", true, None),
            ("${missing, 'dflt'}", true, Some("dflt")),
            ("${ missing ,'d}x' }", true, Some("d}x")),
            ("${aws:username, 'dflt'}", true, Some("alice")),
            ("${missing, dflt}", true, None),
            ("${}", true, None),
            ("a${*}b${?}c${$}d", true, Some("a*b?c$d")),
            ("unterminated ${aws:username", true, Some("unterminated ${aws:username")),
            ("$ and {", true, Some("$ and {")),
        ];
        let c = ctx();
        for (entry, enabled, want) in table {
            let got = expand(entry, &c, *enabled).map(|e| e.text().into_owned());
            assert_eq!(got.as_deref(), *want, "{entry:?} (enabled={enabled})");
        }
    }

    #[test]
    fn substituted_text_is_literal() {
        let c = ctx();
        let e = expand("x/${aws:PrincipalTag/team}", &c, true).unwrap();
        assert!(e.glob("x/a*b"));
        assert!(!e.glob("x/aZZb"));
        let e = expand("x/${*}", &c, true).unwrap();
        assert!(e.glob("x/*"));
        assert!(!e.glob("x/y"));
        // Wildcards written outside the variable still work.
        let e = expand("x/${aws:username}/*", &c, true).unwrap();
        assert!(e.glob("x/alice/anything"));
        assert!(!e.glob("x/bob/anything"));
    }
}
