//! The XML of S3's rest-xml protocol: a small writer for responses, and a bounded parser that
//! turns request bodies into an element tree (S3's request documents are small and shallow).

use quick_xml::Reader;
use quick_xml::events::Event;

pub const NS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

/// Escapes text for element content.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot carry are written as character references where
            // allowed, so that keys with control characters still list.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push_str(&format!("&#x{:X};", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Builds an XML document.
pub struct Xml(String);

impl Xml {
    /// A document whose root element carries the S3 namespace.
    pub fn new(root: &str) -> Xml {
        Xml(format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{root} xmlns=\"{NS}\">"))
    }

    /// A document whose root has no namespace (S3's Error documents).
    pub fn bare(root: &str) -> Xml {
        Xml(format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{root}>"))
    }

    pub fn open(&mut self, tag: &str) -> &mut Self {
        self.0.push('<');
        self.0.push_str(tag);
        self.0.push('>');
        self
    }

    pub fn close(&mut self, tag: &str) -> &mut Self {
        self.0.push_str("</");
        self.0.push_str(tag);
        self.0.push('>');
        self
    }

    pub fn elem(&mut self, tag: &str, text: &str) -> &mut Self {
        self.open(tag);
        self.0.push_str(&escape(text));
        self.close(tag)
    }

    pub fn opt(&mut self, tag: &str, text: Option<&str>) -> &mut Self {
        if let Some(t) = text {
            self.elem(tag, t);
        }
        self
    }

    pub fn finish(mut self, root: &str) -> String {
        self.close(root);
        self.0
    }
}

/// A parsed element: name (without namespace prefix), text, children.
#[derive(Debug, Default, Clone)]
pub struct Node {
    pub name: String,
    pub text: String,
    pub children: Vec<Node>,
}

impl Node {
    pub fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    pub fn text_of(&self, name: &str) -> Option<String> {
        self.child(name).map(|c| c.text.trim().to_string())
    }
}

const MAX_DEPTH: usize = 16;
const MAX_NODES: usize = 100_000;

/// Parses a request document. `None` means malformed (S3: MalformedXML).
pub fn parse(body: &[u8]) -> Option<Node> {
    let mut reader = Reader::from_reader(body);
    reader.config_mut().trim_text(false);
    let mut stack: Vec<Node> = Vec::new();
    let mut root: Option<Node> = None;
    let mut nodes = 0usize;
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf).ok()? {
            Event::Start(e) => {
                if root.is_some() || stack.len() >= MAX_DEPTH {
                    return None;
                }
                nodes += 1;
                if nodes > MAX_NODES {
                    return None;
                }
                let name = e.local_name().as_ref().to_string();
                stack.push(Node { name, ..Node::default() });
            }
            Event::Empty(e) => {
                if root.is_some() {
                    return None;
                }
                nodes += 1;
                let name = e.local_name().as_ref().to_string();
                let n = Node { name, ..Node::default() };
                match stack.last_mut() {
                    Some(p) => p.children.push(n),
                    None => root = Some(n),
                }
            }
            Event::End(e) => {
                let n = stack.pop()?;
                if e.local_name().as_ref() != n.name.as_str() {
                    return None;
                }
                match stack.last_mut() {
                    Some(p) => p.children.push(n),
                    None => root = Some(n),
                }
            }
            Event::Text(t) => {
                let s = t.xml10_content();
                match stack.last_mut() {
                    Some(n) => n.text.push_str(&s),
                    None if s.trim().is_empty() => {}
                    None => return None,
                }
            }
            Event::GeneralRef(r) => {
                let s = match r.resolve_char_ref().ok()? {
                    Some(c) => c.to_string(),
                    None => quick_xml::escape::unescape(&format!("&{};", r.xml10_content())).ok()?.into_owned(),
                };
                stack.last_mut()?.text.push_str(&s);
            }
            Event::CData(t) => stack.last_mut()?.text.push_str(&t.xml10_content()),
            Event::Eof => break,
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
            Event::DocType(_) => return None,
        }
        buf.clear();
    }
    if !stack.is_empty() {
        return None;
    }
    root
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        let doc = parse(br#"<?xml version="1.0"?><Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>a&amp;b</Key></Object><Object><Key>c</Key></Object><Quiet>true</Quiet></Delete>"#).unwrap();
        assert_eq!(doc.name, "Delete");
        let keys: Vec<String> = doc.all("Object").filter_map(|o| o.text_of("Key")).collect();
        assert_eq!(keys, ["a&b", "c"]);
        assert_eq!(doc.text_of("Quiet").as_deref(), Some("true"));
        for bad in [&b"<a><b></a>"[..], b"<a>", b"not xml <", b"<a></a><b></b>", b"<!DOCTYPE x><a/>", b""] {
            assert!(parse(bad).is_none(), "{}", String::from_utf8_lossy(bad));
        }
        let mut deep = String::new();
        for _ in 0..40 {
            deep.push_str("<a>");
        }
        assert!(parse(deep.as_bytes()).is_none());
    }

    #[test]
    fn writes() {
        let mut x = Xml::new("R");
        x.elem("K", "a<b&c").opt("N", None);
        assert_eq!(x.finish("R"), format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<R xmlns=\"{NS}\"><K>a&lt;b&amp;c</K></R>"));
    }
}
