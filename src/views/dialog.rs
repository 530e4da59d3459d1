//! The modal dialogs of the pages: a `<dialog>` holding one form, opened by `app.js`
//! (Escape closes it, focus goes to its first field, server errors appear inside it and
//! focus returns to the field concerned), and the form fields they share: password inputs
//! with a show-password toggle, and the hint that says how long a new password must be.

use maud::{html, Markup, Render};

use super::icons::Icon;

/// Whether the confirming button of a dialog is a plain or a destructive action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// An ordinary action.
    Primary,
    /// An action that removes or blocks something.
    Danger,
}

/// A modal dialog `id` with a heading, the form's fields and a confirming button labelled
/// `submit`.
pub fn modal(id: &str, heading: Markup, fields: Markup, submit: &str, tone: Tone) -> Markup {
    let heading_id = format!("{id}-title");
    html! {
        dialog.modal id=(id) aria-labelledby=(heading_id) data-testid=(id) {
            form.modal-form method="dialog" novalidate {
                div.modal-head {
                    h2 id=(heading_id) { (heading) }
                    button.icon-btn type="button" data-close aria-label="Close" title="Close" { (Icon::Close) }
                }
                div.modal-body { (fields) }
                div.form-error role="alert" hidden data-testid="dialog-error" {}
                div.modal-actions {
                    button.btn type="button" data-close { "Cancel" }
                    button.btn.btn-primary[tone == Tone::Primary].btn-danger[tone == Tone::Danger]
                        type="submit" data-testid="dialog-submit" { (submit) }
                }
            }
        }
    }
}

/// A modal dialog `id` that only shows something (`body`), closed with its Close button.
/// It holds a form like [`modal`], so that `app.js` opens and resets both alike.
pub fn info_modal(id: &str, heading: Markup, body: Markup) -> Markup {
    let heading_id = format!("{id}-title");
    html! {
        dialog.modal.modal-wide id=(id) aria-labelledby=(heading_id) data-testid=(id) {
            form.modal-form method="dialog" novalidate {
                div.modal-head {
                    h2 id=(heading_id) { (heading) }
                    button.icon-btn type="button" data-close aria-label="Close" title="Close" { (Icon::Close) }
                }
                div.modal-body { (body) }
                div.form-error role="alert" hidden data-testid="dialog-error" {}
                div.modal-actions {
                    button.btn type="button" data-close { "Close" }
                }
            }
        }
    }
}

/// A password input with its show-password toggle (an eye button that `app.js` turns into
/// a switch between `password` and `text`).
#[derive(Debug, Clone, Copy)]
pub struct PasswordInput<'a> {
    /// The input's `id`.
    pub id: &'a str,
    /// The input's `name`.
    pub name: &'a str,
    /// `current-password` or `new-password`, for password managers.
    pub autocomplete: &'a str,
    /// For a new password, the fewest characters it may have (`minlength`); `None` for an
    /// existing password, which is never held to it.
    pub min_chars: Option<usize>,
    /// The `id` of the hint that describes the input, if any.
    pub described_by: Option<&'a str>,
    /// Whether the form needs a value (the `required` attribute).
    pub required: bool,
}

impl<'a> PasswordInput<'a> {
    /// An existing password (`current-password`), named after its `id`.
    pub fn current(id: &'a str) -> Self {
        Self {
            id,
            name: id,
            autocomplete: "current-password",
            min_chars: None,
            described_by: None,
            required: false,
        }
    }

    /// The repeated new password, to catch a typing mistake (held to no length: it must
    /// equal the first).
    pub fn confirm(id: &'a str) -> Self {
        Self {
            autocomplete: "new-password",
            ..Self::current(id)
        }
    }

    /// A new password of at least `min_chars` characters (0: no minimum), named after its
    /// `id`.
    pub fn new_password(id: &'a str, min_chars: usize) -> Self {
        Self {
            autocomplete: "new-password",
            min_chars: (min_chars > 0).then_some(min_chars),
            ..Self::current(id)
        }
    }
}

impl Render for PasswordInput<'_> {
    fn render(&self) -> Markup {
        html! {
            div.password-wrap {
                input id=(self.id) name=(self.name) type="password" autocomplete=(self.autocomplete)
                    autocapitalize="none" spellcheck="false" minlength=[self.min_chars]
                    aria-describedby=[self.described_by] required[self.required];
                button.icon-btn.reveal type="button" data-reveal=(self.id) aria-controls=(self.id)
                    aria-pressed="false" aria-label="Show password" title="Show password"
                    data-testid="reveal-password" {
                    span.reveal-show { (Icon::Eye) }
                    span.reveal-hide { (Icon::EyeOff) }
                }
            }
        }
    }
}

/// What a new password needs: "At least 8 characters."
pub fn password_rule(min_chars: usize) -> String {
    match min_chars {
        1 => "At least 1 character.".to_owned(),
        n => format!("At least {n} characters."),
    }
}

/// A labelled password input inside a dialog. A new password (`min_chars` set) says under
/// it how long it must be.
pub fn password_field(label: &str, input: PasswordInput<'_>) -> Markup {
    let hint_id = format!("{}-hint", input.id);
    let input = PasswordInput {
        described_by: input.min_chars.map(|_| hint_id.as_str()),
        ..input
    };
    html! {
        div.field {
            label for=(input.id) { (label) }
            (input)
            @if let Some(min) = input.min_chars {
                p.hint id=(hint_id) data-testid="password-rule" { (password_rule(min)) }
            }
        }
    }
}
