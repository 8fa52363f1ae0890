//! The live filter: decides, record by record, whether a live client wants a
//! record — with the same meaning `/api/search` gives the same parameters.
//!
//! Exact filters (container, service, level, stream, request ID) compare
//! values. `q` is parsed with tantivy's own query grammar
//! (`tantivy-query-grammar`, the parser behind `QueryParser`) into the same
//! syntax tree, and this module evaluates that tree against one record: text
//! is tokenized with the index's own analyzer, so a term matches live exactly
//! when it would match in the index; phrases need consecutive tokens; raw
//! fields compare whole values; `fields.x` follows the JSON path and
//! compares numbers as numbers. `q` is first validated by tantivy's
//! `QueryParser` itself, so a query is refused live exactly when search
//! refuses it. A test checks both paths agree on a table of queries.

use serde_json::Value;
use tantivy::tokenizer::TextAnalyzer;
use tantivy_query_grammar::{Occur, UserInputAst, UserInputBound, UserInputLeaf, UserInputLiteral};

use crate::index::LogIndex;
use crate::index::schema::name;
use crate::index::search::SearchError;
use crate::query::SearchParams;
use crate::record::{Level, Record};

/// A compiled live filter.
#[derive(Clone)]
pub struct RecordFilter {
    params: SearchParams,
    q: Option<Node>,
    analyzer: TextAnalyzer,
}

impl std::fmt::Debug for RecordFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordFilter")
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

/// Which part of a record a leaf looks at.
#[derive(Debug, Clone)]
enum Target {
    /// Free text: the default fields, `message` or `msg` (search's
    /// `fields` default adds nothing the line does not hold).
    Default,
    Message,
    Msg,
    Raw(&'static str),
    Json(Vec<String>),
    Ts,
    Seq,
    Truncated,
}

#[derive(Debug, Clone)]
enum Node {
    All,
    /// Must / Should / MustNot children, with tantivy's boolean semantics.
    Clause(Vec<(Occur, Node)>),
    /// Tokens that must appear consecutively (the last one as a prefix if set).
    Text {
        target: Target,
        phrase: String,
        prefix: bool,
    },
    Range {
        target: Target,
        lower: UserInputBound,
        upper: UserInputBound,
    },
    Set {
        target: Target,
        elements: Vec<String>,
    },
    Exists(Target),
}

impl RecordFilter {
    /// Compiles the filters; `Err` for a query search would refuse too, or for
    /// the few constructs only the index can answer (regular expressions).
    pub fn new(index: &LogIndex, params: SearchParams) -> Result<RecordFilter, SearchError> {
        let analyzer = index
            .tantivy()
            .tokenizers()
            .get("default")
            .ok_or_else(|| SearchError::BadQuery("the default tokenizer is missing".into()))?;
        let q = match params.q.as_deref().filter(|q| !q.trim().is_empty()) {
            None => None,
            Some(q) => {
                index.parse_q(q)?;
                let ast = tantivy_query_grammar::parse_query(q)
                    .map_err(|_| SearchError::BadQuery(format!("cannot parse {q:?}")))?;
                Some(compile(ast)?)
            }
        };
        Ok(RecordFilter {
            params,
            q,
            analyzer,
        })
    }

    /// Whether `record` passes every filter.
    pub fn matches(&mut self, record: &Record) -> bool {
        let p = &self.params;
        let c = &record.container;
        if let Some(id) = &p.request_id
            && record.request_id.as_ref() != Some(id)
            && record.trace_id.as_ref() != Some(id)
        {
            return false;
        }
        let any = |wanted: &[String], value: Option<&str>| {
            wanted.is_empty() || value.is_some_and(|v| wanted.iter().any(|w| w == v))
        };
        if !any(&p.container, Some(&c.name))
            || !any(&p.service, c.service.as_deref())
            || !any(&p.level, record.level.as_ref().map(Level::as_str))
            || !any(&p.stream, Some(record.stream.as_str()))
        {
            return false;
        }
        match &self.q {
            None => true,
            Some(node) => {
                let mut ctx = Eval {
                    record,
                    analyzer: &mut self.analyzer,
                    message_tokens: None,
                    msg_tokens: None,
                };
                ctx.eval(node)
            }
        }
    }
}

fn compile(ast: UserInputAst) -> Result<Node, SearchError> {
    Ok(match ast {
        UserInputAst::Boost(inner, _) => compile(*inner)?,
        UserInputAst::Clause(children) => Node::Clause(
            children
                .into_iter()
                // AND is the default, as in search (set_conjunction_by_default).
                .map(|(occur, child)| Ok((occur.unwrap_or(Occur::Must), compile(child)?)))
                .collect::<Result<_, SearchError>>()?,
        ),
        UserInputAst::Leaf(leaf) => match *leaf {
            UserInputLeaf::All => Node::All,
            UserInputLeaf::Literal(UserInputLiteral {
                field_name,
                phrase,
                prefix,
                ..
            }) => Node::Text {
                target: target(field_name.as_deref())?,
                phrase,
                prefix,
            },
            UserInputLeaf::Range {
                field,
                lower,
                upper,
            } => Node::Range {
                target: target(field.as_deref())?,
                lower,
                upper,
            },
            UserInputLeaf::Set { field, elements } => Node::Set {
                target: target(field.as_deref())?,
                elements,
            },
            UserInputLeaf::Exists { field } => match target(Some(&field))? {
                // As in search: only fast fields can answer "has a value".
                target
                @ (Target::Json(_) | Target::Ts | Target::Seq | Target::Raw(name::LEVEL)) => {
                    Node::Exists(target)
                }
                _ => {
                    return Err(SearchError::BadQuery(format!(
                        "Field {field} is not a fast field; {field}:* is not supported"
                    )));
                }
            },
            UserInputLeaf::Regex { .. } => {
                return Err(SearchError::BadQuery(
                    "regular expressions are supported in search, not in live filters".into(),
                ));
            }
        },
    })
}

fn target(field: Option<&str>) -> Result<Target, SearchError> {
    let Some(field) = field else {
        return Ok(Target::Default);
    };
    const RAW: &[&str] = &[
        name::HOST,
        name::CONTAINER_ID,
        name::CONTAINER,
        name::IMAGE,
        name::SERVICE,
        name::PROJECT,
        name::STREAM,
        name::LEVEL,
        name::REQUEST_ID,
        name::TRACE_ID,
        name::SPAN_ID,
    ];
    if let Some(raw) = RAW.iter().find(|r| **r == field) {
        return Ok(Target::Raw(raw));
    }
    Ok(match field {
        name::MESSAGE => Target::Message,
        name::MSG => Target::Msg,
        name::TS => Target::Ts,
        name::SEQ => Target::Seq,
        name::TRUNCATED => Target::Truncated,
        name::FIELDS => Target::Json(Vec::new()),
        // tantivy looks a name that is no field up as a path inside the
        // default JSON field: `user_id:42` means `fields.user_id:42`.
        _ => {
            let path = field.strip_prefix("fields.").unwrap_or(field);
            Target::Json(path.split('.').map(str::to_owned).collect())
        }
    })
}

/// One evaluation of a query against one record.
struct Eval<'a> {
    record: &'a Record,
    analyzer: &'a mut TextAnalyzer,
    message_tokens: Option<Vec<String>>,
    msg_tokens: Option<Vec<String>>,
}

/// A value found at a target.
enum Found<'a> {
    Text(&'a str),
    Json(&'a Value),
    Number(f64),
    Bool(bool),
}

impl Eval<'_> {
    /// The record's message, tokenized once per evaluation.
    fn message_tokens(&mut self) -> &[String] {
        let (record, analyzer) = (self.record, &mut *self.analyzer);
        self.message_tokens
            .get_or_insert_with(|| tokens(analyzer, &record.message))
    }

    /// The record's `msg`, tokenized once per evaluation (none: no tokens).
    fn msg_tokens(&mut self) -> &[String] {
        let (record, analyzer) = (self.record, &mut *self.analyzer);
        self.msg_tokens.get_or_insert_with(|| match &record.msg {
            Some(msg) => tokens(analyzer, msg),
            None => Vec::new(),
        })
    }

    fn eval(&mut self, node: &Node) -> bool {
        match node {
            Node::All => true,
            Node::Clause(children) => self.clause(children),
            Node::Text {
                target: target @ (Target::Default | Target::Message | Target::Msg),
                phrase,
                prefix,
            } => {
                let wanted = tokens(self.analyzer, phrase);
                let in_message = !matches!(target, Target::Msg)
                    && contains_phrase(self.message_tokens(), &wanted, *prefix);
                in_message
                    || !matches!(target, Target::Message)
                        && contains_phrase(self.msg_tokens(), &wanted, *prefix)
            }
            Node::Text {
                target,
                phrase,
                prefix,
            } => {
                let found = find(self.record, target);
                found
                    .iter()
                    .any(|f| equals(self.analyzer, f, phrase, *prefix))
            }
            Node::Set {
                target: target @ (Target::Default | Target::Message | Target::Msg),
                elements,
            } => elements.iter().any(|element| {
                let node = Node::Text {
                    target: target.clone(),
                    phrase: element.clone(),
                    prefix: false,
                };
                self.eval(&node)
            }),
            Node::Set { target, elements } => {
                let found = find(self.record, target);
                found
                    .iter()
                    .any(|f| elements.iter().any(|e| equals(self.analyzer, f, e, false)))
            }
            Node::Range {
                target,
                lower,
                upper,
            } => find(self.record, target)
                .iter()
                .any(|f| in_range(f, lower, upper)),
            Node::Exists(target) => !find(self.record, target).is_empty(),
        }
    }

    fn clause(&mut self, children: &[(Occur, Node)]) -> bool {
        let mut has_must = false;
        let mut any_should = false;
        let mut has_should = false;
        for (occur, child) in children {
            match occur {
                Occur::Must => {
                    has_must = true;
                    if !self.eval(child) {
                        return false;
                    }
                }
                Occur::MustNot => {
                    if self.eval(child) {
                        return false;
                    }
                }
                Occur::Should => {
                    has_should = true;
                    any_should = any_should || self.eval(child);
                }
            }
        }
        has_must || !has_should || any_should
    }
}

/// The values of a record at a target.
fn find<'a>(r: &'a Record, target: &Target) -> Vec<Found<'a>> {
    let c = &r.container;
    match target {
        Target::Default | Target::Message => vec![Found::Text(&r.message)],
        Target::Msg => r.msg.as_deref().map(Found::Text).into_iter().collect(),
        Target::Ts => vec![Found::Number(r.ts_ns as f64)],
        Target::Seq => vec![Found::Number(r.seq as f64)],
        Target::Truncated => {
            if r.truncated {
                vec![Found::Bool(true)]
            } else {
                Vec::new()
            }
        }
        Target::Json(path) => {
            let mut keys = path.iter();
            let mut value = keys.next().and_then(|key| r.fields.get(key));
            for key in keys {
                value = value.and_then(Value::as_object).and_then(|m| m.get(key));
            }
            match (path.is_empty(), value) {
                (true, _) => Vec::new(),
                (false, Some(Value::Array(items))) => items.iter().map(Found::Json).collect(),
                (false, Some(Value::Null) | None) => Vec::new(),
                (false, Some(v)) => vec![Found::Json(v)],
            }
        }
        Target::Raw(field) => {
            let value = match *field {
                name::HOST => Some(c.host.as_str()),
                name::CONTAINER_ID => Some(c.id.as_str()),
                name::CONTAINER => Some(c.name.as_str()),
                name::IMAGE => Some(c.image.as_str()),
                name::SERVICE => c.service.as_deref(),
                name::PROJECT => c.project.as_deref(),
                name::STREAM => Some(r.stream.as_str()),
                name::LEVEL => r.level.as_ref().map(Level::as_str),
                name::REQUEST_ID => r.request_id.as_deref(),
                name::TRACE_ID => r.trace_id.as_deref(),
                name::SPAN_ID => r.span_id.as_deref(),
                _ => None,
            };
            value.map(Found::Text).into_iter().collect()
        }
    }
}

/// Whether a found value equals a query literal, by the value's type: raw
/// strings whole, JSON strings as tokenized text, numbers numerically.
fn equals(analyzer: &mut TextAnalyzer, found: &Found<'_>, literal: &str, prefix: bool) -> bool {
    match found {
        Found::Text(text) => {
            if prefix {
                text.starts_with(literal)
            } else {
                *text == literal
            }
        }
        Found::Number(n) => literal.parse::<f64>().is_ok_and(|l| l == *n),
        Found::Bool(b) => literal.parse::<bool>().is_ok_and(|l| l == *b),
        Found::Json(Value::String(text)) => {
            let wanted = tokens(analyzer, literal);
            contains_phrase(&tokens(analyzer, text), &wanted, prefix)
        }
        Found::Json(Value::Number(n)) => literal
            .parse::<f64>()
            .ok()
            .zip(n.as_f64())
            .is_some_and(|(l, v)| l == v),
        Found::Json(Value::Bool(b)) => literal.parse::<bool>().is_ok_and(|l| l == *b),
        Found::Json(_) => false,
    }
}

fn in_range(found: &Found<'_>, lower: &UserInputBound, upper: &UserInputBound) -> bool {
    let number = match found {
        Found::Number(n) => Some(*n),
        Found::Json(Value::Number(n)) => n.as_f64(),
        _ => None,
    };
    let text = match found {
        Found::Text(t) => Some(*t),
        Found::Json(Value::String(t)) => Some(t.as_str()),
        _ => None,
    };
    let check = |bound: &UserInputBound, below: bool| -> bool {
        let (value, inclusive) = match bound {
            UserInputBound::Unbounded => return true,
            UserInputBound::Inclusive(v) => (v.as_str(), true),
            UserInputBound::Exclusive(v) => (v.as_str(), false),
        };
        if value == "*" {
            return true;
        }
        let ordering = match (number, text) {
            (Some(n), _) => match value.parse::<f64>() {
                Ok(v) => n.partial_cmp(&v),
                Err(_) => return false,
            },
            (None, Some(t)) => Some(t.cmp(value)),
            _ => return false,
        };
        match (ordering, below) {
            (Some(std::cmp::Ordering::Equal), _) => inclusive,
            (Some(std::cmp::Ordering::Greater), true) => true,
            (Some(std::cmp::Ordering::Less), false) => true,
            _ => false,
        }
    };
    check(lower, true) && check(upper, false)
}

fn tokens(analyzer: &mut TextAnalyzer, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut stream = analyzer.token_stream(text);
    while stream.advance() {
        out.push(stream.token().text.clone());
    }
    out
}

/// Whether `wanted` occurs as consecutive tokens in `have`.
fn contains_phrase(have: &[String], wanted: &[String], prefix: bool) -> bool {
    if wanted.is_empty() {
        return false;
    }
    let n = wanted.len();
    have.windows(n).any(|window| {
        window.iter().zip(wanted).enumerate().all(|(i, (h, w))| {
            if prefix && i == n - 1 {
                h.starts_with(w.as_str())
            } else {
                h == w
            }
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::testing::{index_with, record};

    /// The live filter must select exactly what search selects.
    #[test]
    fn live_filter_agrees_with_search_on_every_query() {
        let records = vec![
            record(1, 10, "web", "INFO GET /login took 12ms request_id=r1"),
            record(
                2,
                20,
                "api",
                r#"{"level":"error","msg":"token expired","user_id":42,"http":{"status":401}}"#,
            ),
            record(
                3,
                30,
                "api",
                "level=warn msg=\"disk almost full\" disk=sda1 request_id=r2",
            ),
            record(4, 40, "db", "plain words: connection reset by peer"),
            record(5, 50, "web", "WARN Slow-Query detected, timeout=30s"),
            record(
                6,
                60,
                "web",
                r#"{"msg":"hello world","tags":["a","b"],"ok":true}"#,
            ),
            // msg differs from the line's words: a rendered Serilog template,
            // a JSON escape undone.
            record(
                7,
                70,
                "api",
                r#"{"@t":"2026-12-03T07:43:41Z","@mt":"User {Name} logged in","Name":"bob"}"#,
            ),
            record(
                8,
                80,
                "api",
                r#"{"level":"info","msg":"line one\nline two"}"#,
            ),
        ];
        let (_dir, index) = index_with(&records);
        let queries = [
            "login",
            "LOGIN",
            "token expired",
            "\"token expired\"",
            "\"expired token\"",
            "expired AND token",
            "login OR disk",
            "NOT login AND web",
            "level:error",
            "level:ERROR",
            "container:web",
            "container:web AND NOT timeout",
            "fields.user_id:42",
            "fields.user_id:43",
            "fields.http.status:401",
            "fields.msg:expired",
            "fields.disk:sda1",
            "fields.tags:b",
            "fields.ok:true",
            "request_id:r1",
            "slow-query",
            "slow",
            "time*",
            "con*",
            "service:db OR service:api",
            "container:IN [web db]",
            "fields.user_id:[40 TO 50]",
            "fields.user_id:{42 TO 50]",
            "seq:[2 TO 4]",
            "*",
            "+login -disk",
            "(login OR reset) AND container:web",
            "fields.user_id:*",
            "project:*",
            "level:*",
            "ts:*",
            "no_such_field:x",
            "fields.nope:x",
            "user_id:42",
            "http.status:401",
            "message:peer",
            "stream:stdout",
            "sda1",
            "msg:expired",
            "msg:\"disk almost\"",
            "msg:GET",
            "msg:INFO",
            "message:INFO",
            "msg:log*",
            "msg:bob",
            "\"bob logged\"",
            "msg:\"bob logged\"",
            "message:\"bob logged\"",
            "\"one line\"",
            "msg:nline",
            "message:nline",
            "NOT msg:login",
            "msg:* ",
            "msg:peer",
            "msg:IN [expired bob]",
            "message:IN [peer login]",
            "level:info AND msg:line",
        ];
        for q in queries {
            let params = SearchParams {
                q: Some(q.into()),
                limit: 100,
                ascending: true,
                ..Default::default()
            };
            let from_search: Vec<u64> = match index.search(&params) {
                Ok(page) => page.hits.iter().map(|r| r.seq).collect(),
                Err(e) => {
                    assert!(
                        RecordFilter::new(&index, params).is_err(),
                        "{q}: search refused ({e}), live accepted"
                    );
                    continue;
                }
            };
            let mut filter =
                RecordFilter::new(&index, params).unwrap_or_else(|e| panic!("{q}: {e}"));
            let live: Vec<u64> = records
                .iter()
                .filter(|r| filter.matches(r))
                .map(|r| r.seq)
                .collect();
            assert_eq!(live, from_search, "query {q:?}");
        }
    }

    #[test]
    fn exact_filters_match_like_search() {
        let records = vec![
            record(1, 10, "web", "ERROR a request_id=r1"),
            record(2, 20, "api", "INFO b"),
        ];
        let (_dir, index) = index_with(&records);
        let params = SearchParams {
            container: vec!["web".into(), "db".into()],
            level: vec!["error".into()],
            request_id: Some("r1".into()),
            ..Default::default()
        };
        let mut filter = RecordFilter::new(&index, params).unwrap();
        assert!(filter.matches(&records[0]));
        assert!(!filter.matches(&records[1]));
    }

    #[test]
    fn regex_is_refused_live_with_a_reason() {
        let (_dir, index) = index_with(&[]);
        let params = SearchParams {
            q: Some("message:/fo+/".into()),
            ..Default::default()
        };
        match RecordFilter::new(&index, params) {
            Err(SearchError::BadQuery(detail)) => assert!(!detail.is_empty()),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
}
