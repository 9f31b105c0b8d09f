//! The tree of a template, and the parser that builds it from the lexer's
//! tokens with Go's checks: unknown functions and variables, `end` and
//! `else` in their places, `break`/`continue` only inside `range`.

use super::error::TemplateError;
use super::lex::{number, Kind, Number, Token};

#[derive(Debug)]
pub(super) enum Node {
    Text(String),
    /// `{{pipeline}}`: printed unless it declares or assigns.
    Action(Pipe),
    If(Control),
    With(Control),
    Range(Control),
    Break,
    Continue,
}

/// `if`, `with`, `range`: the pipeline, the body and the `else` part.
#[derive(Debug)]
pub(super) struct Control {
    pub(super) pipe: Pipe,
    pub(super) body: Vec<Node>,
    pub(super) otherwise: Vec<Node>,
}

#[derive(Debug)]
pub(super) struct Pipe {
    pub(super) line: usize,
    /// Variables declared (`:=`) or assigned (`=`) with its value.
    pub(super) vars: Vec<String>,
    pub(super) assign: bool,
    pub(super) commands: Vec<Command>,
}

#[derive(Debug)]
pub(super) struct Command {
    pub(super) operands: Vec<Operand>,
}

#[derive(Debug)]
pub(super) enum Operand {
    Dot,
    /// `.a.b`: a path below the current value.
    Field(Vec<String>),
    /// `$x.a.b` (`$` is the data).
    Variable(String, Vec<String>),
    /// `(pipeline).a.b`
    Pipe(Box<Pipe>, Vec<String>),
    Function(String),
    Str(String),
    Number(Number),
    Bool(bool),
    Nil,
}

pub(super) struct Parser<'a> {
    name: &'a str,
    tokens: Vec<Token>,
    at: usize,
    /// The variables in scope, innermost last (`$` always).
    vars: Vec<String>,
    ranges: usize,
    /// Blocks and parentheses open now (see `MAX_NESTING`).
    nesting: usize,
    is_function: &'a dyn Fn(&str) -> bool,
}

/// How deep blocks and parentheses may nest: parsing and running recurse
/// once per level, on the Wasm stack, so a hostile template must not go
/// deeper (real ones nest a handful).
const MAX_NESTING: usize = 100;

/// How a list of nodes ended.
enum End {
    Eof,
    /// `{{end}}`
    Keyword,
    /// `{{else}}`, or `{{else if ..}}` / `{{else with ..}}` (the keyword).
    Else(Option<String>),
}

impl<'a> Parser<'a> {
    pub(super) fn new(
        name: &'a str,
        tokens: Vec<Token>,
        is_function: &'a dyn Fn(&str) -> bool,
    ) -> Self {
        Parser {
            name,
            tokens,
            at: 0,
            vars: vec!["$".to_string()],
            ranges: 0,
            nesting: 0,
            is_function,
        }
    }

    pub(super) fn parse(mut self) -> Result<Vec<Node>, TemplateError> {
        let (nodes, end) = self.list()?;
        match end {
            End::Eof => Ok(nodes),
            End::Keyword => Err(self.error("unexpected {{end}}")),
            End::Else(_) => Err(self.error("unexpected {{else}}")),
        }
    }

    fn line(&self) -> usize {
        self.tokens
            .get(self.at)
            .or(self.tokens.last())
            .map_or(1, |t| t.line)
    }

    fn error(&self, message: impl std::fmt::Display) -> TemplateError {
        TemplateError::new(format!(
            "template: {}:{}: {message}",
            self.name,
            self.line()
        ))
    }

    fn peek(&self) -> Option<&Kind> {
        self.tokens.get(self.at).map(|t| &t.kind)
    }

    fn peek_adjacent_field(&self) -> Option<&str> {
        match self.tokens.get(self.at) {
            Some(Token {
                kind: Kind::Field(name),
                spaced: false,
                ..
            }) => Some(name),
            _ => None,
        }
    }

    fn next(&mut self) -> Option<Kind> {
        let token = self.tokens.get(self.at).map(|t| t.kind.clone());
        self.at += 1;
        token
    }

    fn expect_close(&mut self, context: &str) -> Result<(), TemplateError> {
        match self.next() {
            Some(Kind::Close) => Ok(()),
            other => Err(self.error(format!(
                "unexpected {} in {context}",
                describe(other.as_ref())
            ))),
        }
    }

    fn list(&mut self) -> Result<(Vec<Node>, End), TemplateError> {
        let mut nodes = Vec::new();
        loop {
            match self.next() {
                None => return Ok((nodes, End::Eof)),
                Some(Kind::Text(text)) => nodes.push(Node::Text(text)),
                Some(Kind::Open) => match self.action()? {
                    Ok(node) => nodes.push(node),
                    Err(end) => return Ok((nodes, end)),
                },
                Some(other) => {
                    return Err(self.error(format!("unexpected {}", describe(Some(&other)))))
                }
            }
        }
    }

    /// After `{{`: a node, or how the enclosing list ends.
    fn action(&mut self) -> Result<Result<Node, End>, TemplateError> {
        let keyword = match self.peek() {
            Some(Kind::Identifier(word)) => word.clone(),
            _ => String::new(),
        };
        match keyword.as_str() {
            "end" => {
                self.next();
                self.expect_close("end")?;
                Ok(Err(End::Keyword))
            }
            "else" => {
                self.next();
                if let Some(Kind::Identifier(word)) = self.peek() {
                    if word == "if" || word == "with" {
                        return Ok(Err(End::Else(Some(word.clone()))));
                    }
                }
                self.expect_close("else")?;
                Ok(Err(End::Else(None)))
            }
            "if" | "with" | "range" => {
                self.next();
                self.control(&keyword).map(Ok)
            }
            "break" | "continue" => {
                self.next();
                if self.ranges == 0 {
                    return Err(self.error(format!("{{{{{keyword}}}}} outside {{{{range}}}}")));
                }
                self.expect_close(&keyword)?;
                Ok(Ok(match keyword.as_str() {
                    "break" => Node::Break,
                    _ => Node::Continue,
                }))
            }
            "define" | "template" | "block" => Err(self.error(format!(
                "{{{{{keyword}}}}} is not supported (named templates)"
            ))),
            _ => {
                let pipe = self.pipe("command", true)?;
                self.expect_close("command")?;
                Ok(Ok(Node::Action(pipe)))
            }
        }
    }

    /// `if`/`with`/`range` after its keyword, up to and including its `end`.
    fn control(&mut self, keyword: &str) -> Result<Node, TemplateError> {
        self.nest()?;
        let node = self.control_body(keyword);
        self.nesting -= 1;
        node
    }

    fn nest(&mut self) -> Result<(), TemplateError> {
        self.nesting += 1;
        match self.nesting > MAX_NESTING {
            true => Err(self.error(format!("nested deeper than {MAX_NESTING}"))),
            false => Ok(()),
        }
    }

    fn control_body(&mut self, keyword: &str) -> Result<Node, TemplateError> {
        let scope = self.vars.len();
        let pipe = self.pipe(
            keyword,
            keyword == "range" || keyword == "if" || keyword == "with",
        )?;
        self.expect_close(keyword)?;
        if keyword == "range" {
            self.ranges += 1;
        }
        let listed = self.list();
        if keyword == "range" {
            self.ranges -= 1;
        }
        let (body, end) = listed?;
        let otherwise = match end {
            End::Eof => return Err(self.error(format!("unexpected EOF in {keyword}"))),
            End::Keyword => Vec::new(),
            End::Else(None) => {
                let (otherwise, end) = self.list()?;
                match end {
                    End::Keyword => otherwise,
                    End::Eof => return Err(self.error(format!("unexpected EOF in {keyword}"))),
                    End::Else(_) => {
                        return Err(
                            self.error(format!("expected end; found {{{{else}}}} in {keyword}"))
                        )
                    }
                }
            }
            // `{{else if ..}}`: an `if` in the else part that ends with ours.
            End::Else(Some(next)) => {
                self.next();
                vec![self.control(&next)?]
            }
        };
        self.vars.truncate(scope);
        let control = Control {
            pipe,
            body,
            otherwise,
        };
        Ok(match keyword {
            "if" => Node::If(control),
            "with" => Node::With(control),
            _ => Node::Range(control),
        })
    }

    /// A pipeline, with its `$x :=` / `$x =` (and `$i, $e :=` in a range).
    fn pipe(&mut self, context: &str, may_declare: bool) -> Result<Pipe, TemplateError> {
        let line = self.line();
        let mut vars = Vec::new();
        let mut assign = false;
        let start = self.at;
        if may_declare {
            while let Some(Kind::Variable(name)) = self.peek().cloned() {
                self.next();
                match self.peek() {
                    Some(Kind::Declare) | Some(Kind::Assign) => {
                        assign = self.peek() == Some(&Kind::Assign);
                        self.next();
                        vars.push(name);
                        break;
                    }
                    Some(Kind::Comma) if context == "range" && vars.is_empty() => {
                        self.next();
                        vars.push(name);
                    }
                    _ => {
                        // Not a declaration: the variable is an operand.
                        vars.clear();
                        self.at = start;
                        break;
                    }
                }
            }
            if !vars.is_empty()
                && !matches!(
                    self.tokens.get(self.at - 1).map(|t| &t.kind),
                    Some(Kind::Declare | Kind::Assign)
                )
            {
                return Err(self.error(format!("missing := in {context}")));
            }
        }
        let mut commands = Vec::new();
        loop {
            let command = self.command(commands.len() + 1)?;
            commands.push(command);
            match self.peek() {
                Some(Kind::Pipe) => {
                    self.next();
                }
                _ => break,
            }
        }
        if assign {
            for var in &vars {
                if !self.vars.contains(var) {
                    return Err(self.error(format!("undefined variable {var:?}")));
                }
            }
        } else {
            self.vars.extend(vars.iter().cloned());
        }
        Ok(Pipe {
            line,
            vars,
            assign,
            commands,
        })
    }

    fn command(&mut self, stage: usize) -> Result<Command, TemplateError> {
        let mut operands = Vec::new();
        while let Some(kind) = self.peek() {
            if matches!(kind, Kind::Close | Kind::Pipe | Kind::RightParen) {
                break;
            }
            operands.push(self.operand()?);
        }
        let Some(first) = operands.first() else {
            return Err(self.error("missing value for command"));
        };
        match first {
            Operand::Nil => return Err(self.error("nil is not a command")),
            Operand::Function(_) => {}
            _ if operands.len() > 1 => {
                return Err(self.error(format!(
                    "can't give argument to non-function {}",
                    show(first)
                )));
            }
            Operand::Str(_) | Operand::Number(_) | Operand::Bool(_) | Operand::Dot if stage > 1 => {
                return Err(self.error(format!("non executable command in pipeline stage {stage}")));
            }
            _ => {}
        }
        Ok(Command { operands })
    }

    fn operand(&mut self) -> Result<Operand, TemplateError> {
        let operand = match self.next() {
            Some(Kind::Dot) => Operand::Dot,
            Some(Kind::Field(name)) => Operand::Field(vec![name]),
            Some(Kind::Variable(name)) => {
                if !self.vars.contains(&name) {
                    return Err(self.error(format!("undefined variable {name:?}")));
                }
                Operand::Variable(name, Vec::new())
            }
            Some(Kind::Str(text)) => Operand::Str(text),
            Some(Kind::Number(text)) => match number(&text) {
                Some(n) => Operand::Number(n),
                None => return Err(self.error(format!("bad number syntax: {text:?}"))),
            },
            Some(Kind::Identifier(word)) => match word.as_str() {
                "true" => Operand::Bool(true),
                "false" => Operand::Bool(false),
                "nil" => Operand::Nil,
                name if (self.is_function)(name) => Operand::Function(word),
                _ => return Err(self.error(format!("function {word:?} not defined"))),
            },
            Some(Kind::LeftParen) => {
                self.nest()?;
                let pipe = self.pipe("parenthesized pipeline", false);
                self.nesting -= 1;
                let pipe = pipe?;
                match self.next() {
                    Some(Kind::RightParen) => Operand::Pipe(Box::new(pipe), Vec::new()),
                    other => {
                        return Err(self.error(format!(
                            "unexpected {} in parenthesized pipeline",
                            describe(other.as_ref())
                        )))
                    }
                }
            }
            other => {
                return Err(self.error(format!(
                    "unexpected {} in operand",
                    describe(other.as_ref())
                )))
            }
        };
        // Fields right after it (no space) continue the chain.
        let mut chain = Vec::new();
        while let Some(name) = self.peek_adjacent_field() {
            chain.push(name.to_string());
            self.next();
        }
        if chain.is_empty() {
            return Ok(operand);
        }
        Ok(match operand {
            Operand::Field(mut path) => {
                path.extend(chain);
                Operand::Field(path)
            }
            Operand::Variable(name, _) => Operand::Variable(name, chain),
            Operand::Pipe(pipe, _) => Operand::Pipe(pipe, chain),
            Operand::Dot => Operand::Field(chain),
            other => return Err(self.error(format!("unexpected . after term {}", show(&other)))),
        })
    }
}

fn describe(kind: Option<&Kind>) -> String {
    match kind {
        None => "EOF".to_string(),
        Some(Kind::Close) => "\"}}\"".to_string(),
        Some(Kind::Open) => "\"{{\"".to_string(),
        Some(Kind::RightParen) => "\")\"".to_string(),
        Some(Kind::LeftParen) => "\"(\"".to_string(),
        Some(Kind::Pipe) => "\"|\"".to_string(),
        Some(Kind::Comma) => "\",\"".to_string(),
        Some(Kind::Declare) => "\":=\"".to_string(),
        Some(Kind::Assign) => "\"=\"".to_string(),
        Some(Kind::Dot) => "<.>".to_string(),
        Some(Kind::Field(name)) => format!("<.{name}>"),
        Some(Kind::Variable(name)) => format!("<{name}>"),
        Some(Kind::Identifier(name)) => format!("<{name}>"),
        Some(Kind::Str(text)) => format!("{text:?}"),
        Some(Kind::Number(text)) => format!("<{text}>"),
        Some(Kind::Text(_)) => "text".to_string(),
    }
}

fn show(operand: &Operand) -> String {
    match operand {
        Operand::Dot => ".".to_string(),
        Operand::Field(path) => format!(".{}", path.join(".")),
        Operand::Variable(name, path) if path.is_empty() => name.clone(),
        Operand::Variable(name, path) => format!("{name}.{}", path.join(".")),
        Operand::Pipe(..) => "(pipeline)".to_string(),
        Operand::Function(name) => name.clone(),
        Operand::Str(text) => format!("{text:?}"),
        Operand::Number(Number::Int(n)) => n.to_string(),
        Operand::Number(Number::Float(n)) => n.to_string(),
        Operand::Bool(b) => b.to_string(),
        Operand::Nil => "nil".to_string(),
    }
}
