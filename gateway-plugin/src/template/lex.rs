//! Splits a template into text and the tokens of its actions, as Go's
//! `text/template/parse` lexer does: `{{`/`}}` delimiters, the trim markers
//! `{{- ` and ` -}}` (which eat the whitespace beside them), comments
//! `{{/* */}}`, and inside an action: fields, variables, literals,
//! keywords, `(`, `)`, `|`, `:=`, `=` and `,`.

use super::error::TemplateError;

/// One token, with the line it starts on (for errors) and whether space
/// came before it (`$x.a` is a chain, `$x .a` two operands).
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Token {
    pub(super) kind: Kind,
    pub(super) line: usize,
    pub(super) spaced: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub(super) enum Kind {
    /// Text outside actions (after trimming).
    Text(String),
    /// `{{` (a trim marker already applied).
    Open,
    /// `}}`
    Close,
    /// `.` alone: the current value.
    Dot,
    /// `.name`: one step of a field chain.
    Field(String),
    /// `$` or `$name`.
    Variable(String),
    /// A function name or a keyword (`if`, `range`, `true`, `nil`, ...).
    Identifier(String),
    /// A string literal, unquoted.
    Str(String),
    /// A number literal, as written (a char constant as its code point).
    Number(String),
    LeftParen,
    RightParen,
    Pipe,
    Declare,
    Assign,
    Comma,
}

pub(super) fn lex(name: &str, source: &str) -> Result<Vec<Token>, TemplateError> {
    let mut lexer = Lexer {
        name,
        rest: source,
        line: 1,
        tokens: Vec::new(),
        spaced: false,
    };
    lexer.run()?;
    Ok(lexer.tokens)
}

struct Lexer<'a> {
    name: &'a str,
    rest: &'a str,
    line: usize,
    tokens: Vec<Token>,
    /// Whether whitespace was skipped since the last token.
    spaced: bool,
}

impl Lexer<'_> {
    fn error(&self, message: impl std::fmt::Display) -> TemplateError {
        TemplateError::new(format!("template: {}:{}: {message}", self.name, self.line))
    }

    fn push(&mut self, kind: Kind) {
        self.tokens.push(Token {
            kind,
            line: self.line,
            spaced: std::mem::take(&mut self.spaced),
        });
    }

    /// Consumes `count` bytes, counting their newlines.
    fn advance(&mut self, count: usize) -> &str {
        let (taken, rest) = self.rest.split_at(count);
        self.line += taken.matches('\n').count();
        self.rest = rest;
        taken
    }

    fn run(&mut self) -> Result<(), TemplateError> {
        while !self.rest.is_empty() {
            let Some(at) = self.rest.find("{{") else {
                let text = self.advance(self.rest.len()).to_string();
                self.push(Kind::Text(text));
                break;
            };
            let mut text = self.advance(at).to_string();
            // `{{- ` trims the text before it.
            let trim_left = self.rest[2..]
                .strip_prefix('-')
                .is_some_and(|rest| rest.starts_with([' ', '\t', '\n', '\r']));
            if trim_left {
                text.truncate(text.trim_end().len());
            }
            if !text.is_empty() {
                self.push(Kind::Text(text));
            }
            self.advance(if trim_left { 3 } else { 2 });
            self.action()?;
        }
        Ok(())
    }

    /// Skips spaces; says whether a `-}}` or `}}` follows (and consumes it,
    /// trimming the following text for `-}}`).
    fn close(&mut self) -> bool {
        let trimmed = self.rest.trim_start_matches([' ', '\t', '\r', '\n']);
        let spaces = self.rest.len() - trimmed.len();
        if spaces > 0 && trimmed.starts_with("-}}") {
            self.advance(spaces + 3);
            let keep = self.rest.trim_start_matches([' ', '\t', '\r', '\n']).len();
            self.advance(self.rest.len() - keep);
            return true;
        }
        if trimmed.starts_with("}}") {
            self.advance(spaces + 2);
            return true;
        }
        false
    }

    fn action(&mut self) -> Result<(), TemplateError> {
        let spaces = self.rest.len() - self.rest.trim_start().len();
        if self.rest[spaces..].starts_with("/*") {
            let Some(end) = self.rest.find("*/") else {
                return Err(self.error("unclosed comment"));
            };
            self.advance(end + 2);
            if !self.close() {
                return Err(self.error("comment ends before closing delimiter"));
            }
            return Ok(());
        }
        self.push(Kind::Open);
        let mut depth = 0usize;
        loop {
            if depth == 0 && self.close() {
                self.push(Kind::Close);
                return Ok(());
            }
            let Some(c) = self.rest.chars().next() else {
                return Err(self.error("unclosed action"));
            };
            match c {
                ' ' | '\t' | '\r' | '\n' => {
                    self.advance(1);
                    self.spaced = true;
                }
                '(' => {
                    depth += 1;
                    self.advance(1);
                    self.push(Kind::LeftParen);
                }
                ')' => {
                    depth = depth
                        .checked_sub(1)
                        .ok_or_else(|| self.error("unexpected right paren"))?;
                    self.advance(1);
                    self.push(Kind::RightParen);
                }
                '|' => {
                    self.advance(1);
                    self.push(Kind::Pipe);
                }
                ',' => {
                    self.advance(1);
                    self.push(Kind::Comma);
                }
                ':' if self.rest.starts_with(":=") => {
                    self.advance(2);
                    self.push(Kind::Declare);
                }
                '=' => {
                    self.advance(1);
                    self.push(Kind::Assign);
                }
                '"' => self.quoted()?,
                '`' => self.raw()?,
                '\'' => self.char_constant()?,
                '$' => {
                    let name = self.word(1);
                    self.push(Kind::Variable(name));
                }
                '.' if !self.rest[1..].starts_with(|c: char| c.is_ascii_digit()) => {
                    let name = self.word(1);
                    let name = name.strip_prefix('.').unwrap_or(&name).to_string();
                    self.push(match name.is_empty() {
                        true => Kind::Dot,
                        false => Kind::Field(name),
                    });
                }
                c if c == '.' || c == '+' || c == '-' || c.is_ascii_digit() => self.number()?,
                c if c == '_' || c.is_alphabetic() => {
                    let name = self.word(0);
                    self.push(Kind::Identifier(name));
                }
                c => return Err(self.error(format!("unrecognized character in action: {c:?}"))),
            }
        }
    }

    /// A sigil (`$`, `.`) of `skip` bytes and the identifier after it.
    fn word(&mut self, skip: usize) -> String {
        let end = self.rest[skip..]
            .find(|c: char| !(c == '_' || c.is_alphanumeric()))
            .map_or(self.rest.len(), |at| at + skip);
        self.advance(end).to_string()
    }

    fn number(&mut self) -> Result<(), TemplateError> {
        let end = self
            .rest
            .char_indices()
            .skip(1)
            .find(|&(i, c)| {
                let previous = self.rest.as_bytes()[i - 1];
                let exponent_sign = matches!(c, '+' | '-') && matches!(previous, b'e' | b'E');
                !(c.is_ascii_alphanumeric() || c == '.' || c == '_' || exponent_sign)
            })
            .map_or(self.rest.len(), |(i, _)| i);
        let text = self.advance(end).to_string();
        if number(&text).is_none() {
            return Err(self.error(format!("bad number syntax: {text:?}")));
        }
        self.push(Kind::Number(text));
        Ok(())
    }

    fn quoted(&mut self) -> Result<(), TemplateError> {
        let mut out = String::new();
        let mut chars = self.rest.char_indices().skip(1);
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.advance(i + 1);
                    self.push(Kind::Str(out));
                    return Ok(());
                }
                '\n' => break,
                '\\' => {
                    let Some((_, escaped)) = chars.next() else {
                        break;
                    };
                    match escaped {
                        'n' => out.push('\n'),
                        't' => out.push('\t'),
                        'r' => out.push('\r'),
                        '\\' => out.push('\\'),
                        '"' => out.push('"'),
                        '\'' => out.push('\''),
                        '0' => out.push('\0'),
                        'a' => out.push('\u{7}'),
                        'b' => out.push('\u{8}'),
                        'f' => out.push('\u{c}'),
                        'v' => out.push('\u{b}'),
                        'x' | 'u' | 'U' => {
                            let digits = match escaped {
                                'x' => 2,
                                'u' => 4,
                                _ => 8,
                            };
                            let hex: String = (0..digits)
                                .filter_map(|_| chars.next())
                                .map(|(_, c)| c)
                                .collect();
                            let code = u32::from_str_radix(&hex, 16)
                                .ok()
                                .filter(|_| hex.len() == digits);
                            match code.and_then(char::from_u32) {
                                Some(c) => out.push(c),
                                None => return Err(self.error("invalid escape in string")),
                            }
                        }
                        _ => {
                            return Err(self.error(format!("invalid escape \\{escaped} in string")))
                        }
                    }
                }
                c => out.push(c),
            }
        }
        Err(self.error("unterminated quoted string"))
    }

    fn raw(&mut self) -> Result<(), TemplateError> {
        let Some(end) = self.rest[1..].find('`') else {
            return Err(self.error("unterminated raw quoted string"));
        };
        let text = self.advance(end + 2);
        let text = text[1..text.len() - 1].to_string();
        self.push(Kind::Str(text));
        Ok(())
    }

    fn char_constant(&mut self) -> Result<(), TemplateError> {
        let mut chars = self.rest.char_indices().skip(1);
        let value = match chars.next() {
            Some((_, '\\')) => match chars.next() {
                Some((_, 'n')) => '\n',
                Some((_, 't')) => '\t',
                Some((_, '\\')) => '\\',
                Some((_, '\'')) => '\'',
                _ => return Err(self.error("invalid char constant")),
            },
            Some((_, c)) => c,
            None => return Err(self.error("unterminated character constant")),
        };
        match chars.next() {
            Some((i, '\'')) => {
                self.advance(i + 1);
                self.push(Kind::Number((value as u32).to_string()));
                Ok(())
            }
            _ => Err(self.error("unterminated character constant")),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Number {
    Int(i64),
    Float(f64),
}

/// A number literal as Go reads one: decimal, `0x`/`0o`/`0b`, `_`
/// separators, a fraction or an exponent.
pub(super) fn number(text: &str) -> Option<Number> {
    let clean = text.replace('_', "");
    let (sign, digits) = match clean.strip_prefix('-') {
        Some(rest) => (-1i64, rest),
        None => (1, clean.strip_prefix('+').unwrap_or(&clean)),
    };
    let radix = match digits.get(..2) {
        Some("0x" | "0X") => Some(16),
        Some("0o" | "0O") => Some(8),
        Some("0b" | "0B") => Some(2),
        _ => None,
    };
    if let Some(radix) = radix {
        return i64::from_str_radix(&digits[2..], radix)
            .ok()
            .map(|n| Number::Int(sign * n));
    }
    if digits.is_empty() || !digits.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
        return None;
    }
    if let Ok(n) = digits.parse::<i64>() {
        return Some(Number::Int(sign * n));
    }
    let float: f64 = digits.parse().ok()?;
    let float = sign as f64 * float;
    // An integral float literal (`1e3`, `2.0`) is an integer, as Go's
    // constants are.
    match float.fract() == 0.0 && float.abs() < 9.0e15 {
        true => Some(Number::Int(float as i64)),
        false => Some(Number::Float(float)),
    }
}
