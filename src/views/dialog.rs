//! The modal dialogs of the pages: a `<dialog>` holding one form, opened by `app.js`
//! (Escape closes it, focus goes to its first field, server errors appear inside it).

use maud::{html, Markup};

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

/// A labelled input inside a dialog.
pub fn field(id: &str, label: &str, input_type: &str, autocomplete: &str) -> Markup {
    html! {
        div.field {
            label for=(id) { (label) }
            input id=(id) name=(id) type=(input_type) autocomplete=(autocomplete)
                autocapitalize="none" spellcheck="false";
        }
    }
}
