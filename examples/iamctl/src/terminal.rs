//! Asking the person at the terminal: hidden password prompts and one-line answers, only when
//! standard input is a terminal (scripts never block on a prompt).

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use anyhow::{bail, Context, Result};

/// Whether standard input is a terminal, so that iamctl may ask for what it lacks.
pub fn interactive() -> bool {
    std::io::stdin().is_terminal()
}

/// How a secret missing from the flags and the environment is asked for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Ask {
    /// Not at all (the caller says what to give instead).
    Never,
    /// Once, without echo.
    Hidden,
    /// Twice without echo, both answers the same (a new password).
    HiddenTwice,
}

/// Reads a secret without echo, after `prompt` (on the terminal, not standard output).
pub fn hidden(prompt: &str) -> Result<String> {
    let secret = rpassword::prompt_password(prompt).context("reading from the terminal")?;
    if secret.is_empty() {
        bail!("nothing was typed");
    }
    Ok(secret)
}

/// Asks for a secret as `ask` says; `what` names it in the prompt (e.g. "password for alice").
pub fn ask_secret(ask: Ask, what: &str) -> Result<Option<String>> {
    let prompt = format!("{}: ", capitalized(what));
    match ask {
        Ask::Never => Ok(None),
        Ask::Hidden => hidden(&prompt).map(Some),
        Ask::HiddenTwice => {
            let first = hidden(&prompt)?;
            let again = hidden("Repeat it: ")?;
            if first != again {
                bail!("the two entries differ; nothing was changed");
            }
            Ok(Some(first))
        }
    }
}

/// Reads one line typed after `prompt` (shown on standard error), trimmed.
pub fn line(prompt: &str) -> Result<String> {
    let mut err = std::io::stderr().lock();
    write!(err, "{prompt}")
        .and_then(|()| err.flush())
        .context("writing the prompt")?;
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .context("reading from the terminal")?;
    Ok(answer.trim().to_owned())
}

/// `text` with its first letter upper-case.
fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompts_start_upper_case() {
        assert_eq!(capitalized("password for alice"), "Password for alice");
        assert_eq!(capitalized(""), "");
    }
}
