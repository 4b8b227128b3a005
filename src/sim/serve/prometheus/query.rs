//! The PromQL the sim's Prometheus understands: vector selectors (`name{l="v",l!="v",l=~"re",
//! l!~"re"}`), range selectors (`[5m]`) as the argument of `rate`/`increase`, the aggregations
//! `sum`/`min`/`max`/`avg`/`count` with `by (...)`/`without (...)` (before or after the
//! argument), and number literals. That covers every query the backfill and discovery send.
//! Errors read like Prometheus' own: "1:12: parse error: unexpected ...".

use regex::Regex;

/// Prometheus' default lookback delta: how far back an instant selector finds a sample.
pub const LOOKBACK_MS: i64 = 300_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchOp {
    Equal,
    NotEqual,
    Regex,
    NotRegex,
}

#[derive(Clone, Debug)]
pub struct Matcher {
    pub name: String,
    pub op: MatchOp,
    pub value: String,
    /// Anchored, as Prometheus anchors label regexes.
    re: Option<Regex>,
}

impl Matcher {
    pub fn new(name: &str, op: MatchOp, value: &str) -> Result<Self, String> {
        let re = match op {
            MatchOp::Regex | MatchOp::NotRegex => Some(
                Regex::new(&format!("^(?s:{value})$"))
                    .map_err(|e| format!("invalid regular expression {value:?}: {e}"))?,
            ),
            _ => None,
        };
        Ok(Self {
            name: name.to_string(),
            op,
            value: value.to_string(),
            re,
        })
    }

    /// Whether a label's value (`""` when the label is absent) passes.
    pub fn matches(&self, v: &str) -> bool {
        match (self.op, &self.re) {
            (MatchOp::Equal, _) => v == self.value,
            (MatchOp::NotEqual, _) => v != self.value,
            (MatchOp::Regex, Some(re)) => re.is_match(v),
            (MatchOp::NotRegex, Some(re)) => !re.is_match(v),
            _ => false,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Selector {
    pub matchers: Vec<Matcher>,
}

impl Selector {
    /// The metric name when the selector names exactly one.
    pub fn metric(&self) -> Option<&str> {
        self.matchers
            .iter()
            .find(|m| m.name == "__name__" && m.op == MatchOp::Equal)
            .map(|m| m.value.as_str())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Func {
    Rate,
    Increase,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AggOp {
    Sum,
    Min,
    Max,
    Avg,
    Count,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Grouping {
    By(Vec<String>),
    Without(Vec<String>),
}

#[derive(Clone, Debug)]
pub enum Expr {
    Number(f64),
    Vector(Selector),
    /// A range selector; only valid as a function's argument.
    Range(Selector, i64),
    Call(Func, Box<Expr>),
    Aggregate(AggOp, Grouping, Box<Expr>),
}

impl Expr {
    /// Every selector in the expression.
    pub fn selectors(&self) -> Vec<&Selector> {
        match self {
            Expr::Number(_) => Vec::new(),
            Expr::Vector(s) | Expr::Range(s, _) => vec![s],
            Expr::Call(_, e) | Expr::Aggregate(_, _, e) => e.selectors(),
        }
    }

    /// The longest range or lookback the expression reads before an evaluation time, ms.
    pub fn reach_ms(&self) -> i64 {
        match self {
            Expr::Number(_) => 0,
            Expr::Vector(_) => LOOKBACK_MS,
            Expr::Range(_, r) => *r,
            Expr::Call(_, e) | Expr::Aggregate(_, _, e) => e.reach_ms(),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Num(f64),
    Duration(i64),
    Punct(&'static str),
}

struct Lexer<'a> {
    src: &'a str,
    pos: usize,
}

/// Parse a query; the error is Prometheus' "line:col: parse error: ...".
pub fn parse(src: &str) -> Result<Expr, String> {
    let toks = lex(src)?;
    let mut p = Parser { toks, at: 0, src };
    let e = p.expr()?;
    if let Some((t, pos)) = p.toks.get(p.at) {
        return Err(p.error_at(*pos, &format!("unexpected {}", shown(t))));
    }
    match e {
        Expr::Range(..) => {
            Err(p.error_at(0, "range vectors are not supported as a query result here"))
        }
        e => Ok(e),
    }
}

fn shown(t: &Tok) -> String {
    match t {
        Tok::Ident(s) => format!("identifier {s:?}"),
        Tok::Str(s) => format!("string {s:?}"),
        Tok::Num(n) => format!("number {n}"),
        Tok::Duration(d) => format!("duration {}s", d / 1000),
        Tok::Punct(p) => format!("{p:?}"),
    }
}

fn lex(src: &str) -> Result<Vec<(Tok, usize)>, String> {
    let mut lx = Lexer { src, pos: 0 };
    let mut out = Vec::new();
    let mut in_brackets = false;
    while let Some(c) = lx.peek() {
        let start = lx.pos;
        if c.is_whitespace() {
            lx.bump();
            continue;
        }
        let tok = if in_brackets && c.is_ascii_digit() {
            Tok::Duration(lx.duration()?)
        } else if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            Tok::Ident(lx.take_while(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        } else if c.is_ascii_digit() || c == '.' {
            let s = lx.take_while(|c| c.is_ascii_alphanumeric() || c == '.' || c == '+');
            Tok::Num(
                s.parse()
                    .map_err(|_| err(src, start, &format!("bad number {s:?}")))?,
            )
        } else if c == '"' || c == '\'' || c == '`' {
            Tok::Str(lx.string(c)?)
        } else {
            let two = src.get(lx.pos..lx.pos + 2).unwrap_or_default();
            let p: &'static str = match two {
                "!=" => "!=",
                "=~" => "=~",
                "!~" => "!~",
                _ => match c {
                    '(' => "(",
                    ')' => ")",
                    '{' => "{",
                    '}' => "}",
                    '[' => "[",
                    ']' => "]",
                    ',' => ",",
                    '=' => "=",
                    _ => return Err(err(src, start, &format!("unexpected character {c:?}"))),
                },
            };
            for _ in 0..p.len() {
                lx.bump();
            }
            match p {
                "[" => in_brackets = true,
                "]" => in_brackets = false,
                _ => {}
            }
            Tok::Punct(p)
        };
        out.push((tok, start));
    }
    Ok(out)
}

fn err(src: &str, pos: usize, msg: &str) -> String {
    let line = src[..pos.min(src.len())].matches('\n').count() + 1;
    let col = pos - src[..pos.min(src.len())].rfind('\n').map_or(0, |i| i + 1) + 1;
    format!("{line}:{col}: parse error: {msg}")
}

impl Lexer<'_> {
    fn peek(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn take_while(&mut self, f: impl Fn(char) -> bool) -> String {
        let start = self.pos;
        while self.peek().is_some_and(&f) {
            self.bump();
        }
        self.src[start..self.pos].to_string()
    }

    /// `5m`, `1h30m`, `90s`: milliseconds.
    fn duration(&mut self) -> Result<i64, String> {
        let start = self.pos;
        let mut total: i64 = 0;
        loop {
            let digits = self.take_while(|c| c.is_ascii_digit());
            if digits.is_empty() {
                break;
            }
            let n: i64 = digits
                .parse()
                .map_err(|_| err(self.src, start, "bad duration"))?;
            let unit = self.take_while(|c| c.is_ascii_alphabetic());
            let ms = match unit.as_str() {
                "ms" => 1,
                "s" => 1000,
                "m" => 60_000,
                "h" => 3_600_000,
                "d" => 86_400_000,
                "w" => 604_800_000,
                "y" => 31_536_000_000,
                _ => {
                    return Err(err(self.src, start, &format!("bad duration unit {unit:?}")));
                }
            };
            total = n
                .checked_mul(ms)
                .and_then(|x| total.checked_add(x))
                .ok_or_else(|| err(self.src, start, "duration out of range"))?;
        }
        if total == 0 {
            return Err(err(self.src, start, "duration must be greater than 0"));
        }
        Ok(total)
    }

    fn string(&mut self, quote: char) -> Result<String, String> {
        let start = self.pos;
        self.bump();
        let mut out = String::new();
        loop {
            match self.bump() {
                None => return Err(err(self.src, start, "unterminated quoted string")),
                Some(c) if c == quote => return Ok(out),
                Some('\\') if quote != '`' => match self.bump() {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some(c @ ('\\' | '"' | '\'')) => out.push(c),
                    Some(c) => {
                        return Err(err(
                            self.src,
                            self.pos,
                            &format!("unknown escape sequence {c:?}"),
                        ));
                    }
                    None => return Err(err(self.src, start, "unterminated quoted string")),
                },
                Some(c) => out.push(c),
            }
        }
    }
}

struct Parser<'a> {
    toks: Vec<(Tok, usize)>,
    at: usize,
    src: &'a str,
}

impl Parser<'_> {
    fn error_at(&self, pos: usize, msg: &str) -> String {
        err(self.src, pos, msg)
    }

    fn pos(&self) -> usize {
        self.toks.get(self.at).map_or(self.src.len(), |t| t.1)
    }

    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at).map(|t| &t.0)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.at).map(|t| t.0.clone());
        self.at += 1;
        t
    }

    fn expect(&mut self, p: &'static str) -> Result<(), String> {
        let pos = self.pos();
        match self.next() {
            Some(Tok::Punct(q)) if q == p => Ok(()),
            Some(t) => {
                Err(self.error_at(pos, &format!("unexpected {}, expected {p:?}", shown(&t))))
            }
            None => Err(self.error_at(pos, &format!("unexpected end of input, expected {p:?}"))),
        }
    }

    fn expr(&mut self) -> Result<Expr, String> {
        let pos = self.pos();
        match self.next() {
            Some(Tok::Num(n)) => Ok(Expr::Number(n)),
            Some(Tok::Punct("{")) => {
                let matchers = self.matchers(pos)?;
                self.after_selector(Selector { matchers })
            }
            Some(Tok::Ident(id)) => {
                let next_is_open = self.peek() == Some(&Tok::Punct("("));
                let grouping_next =
                    matches!(self.peek(), Some(Tok::Ident(w)) if w == "by" || w == "without");
                if let Some(op) = agg_op(&id)
                    && (next_is_open || grouping_next)
                {
                    return self.aggregate(op);
                }
                if next_is_open {
                    let func = match id.as_str() {
                        "rate" => Func::Rate,
                        "increase" => Func::Increase,
                        _ => {
                            return Err(
                                self.error_at(pos, &format!("unknown function with name {id:?}"))
                            );
                        }
                    };
                    self.expect("(")?;
                    let arg_pos = self.pos();
                    let arg = self.expr()?;
                    self.expect(")")?;
                    if !matches!(arg, Expr::Range(..)) {
                        return Err(self.error_at(
                            arg_pos,
                            &format!("expected type range vector in call to function {id:?}"),
                        ));
                    }
                    return Ok(Expr::Call(func, Box::new(arg)));
                }
                let mut matchers = vec![Matcher::new("__name__", MatchOp::Equal, &id)?];
                if self.peek() == Some(&Tok::Punct("{")) {
                    let brace = self.pos();
                    self.next();
                    matchers.extend(self.matchers(brace)?);
                }
                self.after_selector(Selector { matchers })
            }
            Some(t) => Err(self.error_at(pos, &format!("unexpected {}", shown(&t)))),
            None => Err(self.error_at(pos, "no expression found in input")),
        }
    }

    fn after_selector(&mut self, sel: Selector) -> Result<Expr, String> {
        if !sel.matchers.iter().any(|m| !m.matches("")) {
            return Err(self.error_at(
                0,
                "vector selector must contain at least one non-empty matcher",
            ));
        }
        if self.peek() == Some(&Tok::Punct("[")) {
            self.next();
            let pos = self.pos();
            let range = match self.next() {
                Some(Tok::Duration(d)) => d,
                _ => return Err(self.error_at(pos, "expected a duration in a range selector")),
            };
            self.expect("]")?;
            return Ok(Expr::Range(sel, range));
        }
        Ok(Expr::Vector(sel))
    }

    /// After `{`: `l op "v"` pairs up to `}`.
    fn matchers(&mut self, open: usize) -> Result<Vec<Matcher>, String> {
        let mut out = Vec::new();
        loop {
            let pos = self.pos();
            match self.next() {
                Some(Tok::Punct("}")) => return Ok(out),
                Some(Tok::Ident(name)) => {
                    let op_pos = self.pos();
                    let op = match self.next() {
                        Some(Tok::Punct("=")) => MatchOp::Equal,
                        Some(Tok::Punct("!=")) => MatchOp::NotEqual,
                        Some(Tok::Punct("=~")) => MatchOp::Regex,
                        Some(Tok::Punct("!~")) => MatchOp::NotRegex,
                        _ => {
                            return Err(self.error_at(op_pos, "expected a label matching operator"));
                        }
                    };
                    let v_pos = self.pos();
                    let value = match self.next() {
                        Some(Tok::Str(v)) => v,
                        _ => return Err(self.error_at(v_pos, "expected a quoted label value")),
                    };
                    out.push(
                        Matcher::new(&name, op, &value).map_err(|e| self.error_at(v_pos, &e))?,
                    );
                    match self.next() {
                        Some(Tok::Punct(",")) => {}
                        Some(Tok::Punct("}")) => return Ok(out),
                        _ => {
                            return Err(self
                                .error_at(self.pos(), "unexpected token in label matching list"));
                        }
                    }
                }
                Some(t) => {
                    return Err(
                        self.error_at(pos, &format!("unexpected {} in label matching", shown(&t)))
                    );
                }
                None => return Err(self.error_at(open, "unexpected end of input inside braces")),
            }
        }
    }

    fn aggregate(&mut self, op: AggOp) -> Result<Expr, String> {
        let mut grouping = self.grouping()?;
        self.expect("(")?;
        let arg = self.expr()?;
        self.expect(")")?;
        if grouping.is_none() {
            grouping = self.grouping()?;
        }
        Ok(Expr::Aggregate(
            op,
            grouping.unwrap_or(Grouping::By(Vec::new())),
            Box::new(arg),
        ))
    }

    fn grouping(&mut self) -> Result<Option<Grouping>, String> {
        let by = match self.peek() {
            Some(Tok::Ident(w)) if w == "by" => true,
            Some(Tok::Ident(w)) if w == "without" => false,
            _ => return Ok(None),
        };
        self.next();
        self.expect("(")?;
        let mut labels = Vec::new();
        loop {
            let pos = self.pos();
            match self.next() {
                Some(Tok::Punct(")")) => break,
                Some(Tok::Ident(l)) => {
                    labels.push(l);
                    match self.next() {
                        Some(Tok::Punct(",")) => {}
                        Some(Tok::Punct(")")) => break,
                        _ => {
                            return Err(
                                self.error_at(self.pos(), "unexpected token in grouping opts")
                            );
                        }
                    }
                }
                _ => return Err(self.error_at(pos, "unexpected token in grouping opts")),
            }
        }
        Ok(Some(if by {
            Grouping::By(labels)
        } else {
            Grouping::Without(labels)
        }))
    }
}

fn agg_op(id: &str) -> Option<AggOp> {
    Some(match id {
        "sum" => AggOp::Sum,
        "min" => AggOp::Min,
        "max" => AggOp::Max,
        "avg" => AggOp::Avg,
        "count" => AggOp::Count,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backfills_queries_parse() {
        let q = r#"sum by (pod) (rate(container_cpu_usage_seconds_total{namespace="shop",pod=~"my\\.app-[a-z0-9]+-[a-z0-9]+",container!="",container!="POD"}[5m]))"#;
        let Expr::Aggregate(AggOp::Sum, Grouping::By(by), arg) = parse(q).expect("parses") else {
            panic!("not a sum");
        };
        assert_eq!(by, ["pod"]);
        let Expr::Call(Func::Rate, range) = *arg else {
            panic!("not a rate")
        };
        let Expr::Range(sel, ms) = *range else {
            panic!("not a range")
        };
        assert_eq!(ms, 300_000);
        assert_eq!(sel.metric(), Some("container_cpu_usage_seconds_total"));
        let pod = sel.matchers.iter().find(|m| m.name == "pod").expect("pod");
        assert!(pod.matches("my.app-7d4b9c8f6-abcde"));
        assert!(!pod.matches("my.app-admin-7d4b9c8f6-abcde"));
        assert!(!pod.matches("myxapp-7d4b9c8f6-abcde"));
        assert!(parse("sum(up) by (job)").is_ok());
        assert!(parse("up").is_ok());
    }

    #[test]
    fn bad_queries_say_where() {
        let e = parse(r#"up{job="x""#).expect_err("unterminated");
        assert!(e.starts_with("1:"), "{e}");
        assert!(
            parse("rate(up)")
                .expect_err("not a range")
                .contains("range vector")
        );
        assert!(parse("up[5m]").is_err());
        assert!(
            parse(r#"{job=""}"#)
                .expect_err("empty")
                .contains("non-empty")
        );
        assert!(
            parse("frobnicate(up[5m])")
                .expect_err("unknown")
                .contains("unknown function")
        );
        assert!(
            parse(r#"up{pod=~"("}"#)
                .expect_err("bad re")
                .contains("regular expression")
        );
    }
}
