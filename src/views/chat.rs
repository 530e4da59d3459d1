//! The home page's one-box chat: the models the visitor may use (listed by `app.js` from
//! `GET /v1/models`, which the gateway filters) and one question whose answer streams into
//! the page as plain text (`POST /v1/chat/completions` with `"stream": true`). No history:
//! the quickest proof that sign-in, the gateway and a model work together.

use maud::{html, Markup};

use super::icons::Icon;

/// The chat section; `app.js` fills the model list and the select, and enables the form
/// once there is a model to ask.
pub fn chat_section() -> Markup {
    html! {
        section.card.chat #chat aria-labelledby="chat-title" data-testid="chat" {
            h2 #chat-title { "Try a model" }
            p.muted { "Your models, through this server's OpenAI-compatible gateway (" code { "/v1" } ")." }
            p.muted.models-status #models-status role="status" data-testid="models-status" { "Loading the models…" }
            ul.model-list #model-list aria-label="Models you may use" hidden data-testid="model-list" {}
            form.chat-form #chat-form novalidate {
                div.field {
                    label for="chat-model" { "Model" }
                    select #chat-model name="model" disabled data-testid="chat-model" {}
                }
                div.field {
                    label for="chat-prompt" { "Message" }
                    textarea #chat-prompt name="prompt" rows="3" disabled
                        aria-describedby="chat-prompt-hint" data-testid="chat-prompt" {}
                    p.hint #chat-prompt-hint { "One question, no history. Ctrl+Enter sends." }
                }
                div.chat-actions {
                    button.btn.btn-primary #chat-send type="submit" disabled data-testid="chat-send" {
                        (Icon::Send) span { "Send" }
                    }
                    button.btn #chat-stop type="button" hidden data-testid="chat-stop" {
                        (Icon::Stop) span { "Stop" }
                    }
                }
            }
            div.form-error #chat-error role="alert" hidden data-testid="chat-error" {}
            div.chat-answer-wrap #chat-answer-wrap hidden {
                h3.chat-answer-head { "Answer" span.muted #chat-answer-model {} }
                div.chat-answer #chat-answer aria-live="polite" data-testid="chat-answer" {}
                p.hint #chat-note hidden data-testid="chat-note" {}
            }
        }
    }
}
