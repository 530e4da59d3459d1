// Small progressive enhancements: JSON sign-in, sign-out, and the user menu.
"use strict";

async function postJson(url, body, method = "POST") {
  const response = await fetch(url, {
    method,
    headers: { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  let data = null;
  try { data = await response.json(); } catch (_) { /* empty body */ }
  return { response, data };
}

function errorMessage(data, response) {
  const message = data && data.responseStatus && data.responseStatus.message;
  if (message) return message;
  if (response.status === 413) return "That is too large.";
  return "Something went wrong (" + response.status + ").";
}

function setupSignIn() {
  const form = document.getElementById("sign-in-form");
  if (!form) return;
  const error = form.querySelector(".form-error");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    const username = form.username.value.trim();
    const password = form.password.value;
    if (!username || !password) {
      error.textContent = "Enter your username and password.";
      error.hidden = false;
      return;
    }
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const { response, data } = await postJson("/auth/login", { username, password });
      if (response.ok) {
        window.location.assign(form.dataset.next || "/");
        return;
      }
      let message = errorMessage(data, response);
      if (response.status === 429) {
        const wait = response.headers.get("Retry-After");
        if (wait) message = "Too many failed attempts. Try again in " + wait + " seconds.";
      }
      error.textContent = message;
      error.hidden = false;
      form.password.select();
    } finally {
      button.disabled = false;
    }
  });
}

function setupSignOut() {
  document.querySelectorAll("form[data-sign-out]").forEach((form) => {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      await postJson("/auth/logout");
      window.location.assign("/login");
    });
  });
}

function setupMenu() {
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      document.querySelectorAll("details.user-menu[open]").forEach((d) => d.removeAttribute("open"));
    }
  });
  document.addEventListener("click", (event) => {
    document.querySelectorAll("details.user-menu[open]").forEach((d) => {
      if (!d.contains(event.target)) d.removeAttribute("open");
    });
  });
}

document.addEventListener("DOMContentLoaded", () => {
  setupSignIn();
  setupSignOut();
  setupMenu();
});
