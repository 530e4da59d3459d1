// llms-auth pages: sign-in (with its code step, and "Choose your password"), the reset
// page, sign-out, the user menu, dialogs, Manage Users, My Account with two-factor
// sign-in, its sessions and API keys, and the home page's chat.
//
// Text from the server or the user is only ever set with textContent. The users table is
// rendered (and escaped) by the server and parsed with DOMParser, never with innerHTML.
"use strict";

const AVATAR_URL = "/avatar/user";

function byId(id) {
  return document.getElementById(id);
}

// ---- Requests ---------------------------------------------------------------------------

// Sends a request and returns { ok, status, data, response } (status 0: no answer).
async function request(url, { method = "POST", json, body } = {}) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  } else if (body !== undefined) {
    init.body = body;
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (_) {
    return { ok: false, status: 0, data: null, response: null };
  }
  let data = null;
  try {
    data = await response.json();
  } catch (_) {
    // No JSON body.
  }
  return { ok: response.ok, status: response.status, data, response };
}

// `text` as a sentence: ending with a full stop unless it already ends with one (or with
// "?" or "!"), so that the server's messages read like the page's own.
function sentence(text) {
  const trimmed = String(text).trim();
  return trimmed === "" || /[.?!]$/.test(trimmed) ? trimmed : trimmed + ".";
}

function errorMessage(result) {
  const message = result.data && result.data.responseStatus && result.data.responseStatus.message;
  if (message) return sentence(message);
  if (result.status === 0) return "The server could not be reached. Check your connection and try again.";
  if (result.status === 413) return "That is too large.";
  return "Something went wrong (" + result.status + "). Try again.";
}

// The session ended while the page was open: sign in again and come back here.
function signInAgain() {
  const next = window.location.pathname + window.location.search;
  window.location.assign("/login?next=" + encodeURIComponent(next));
}

// ---- Messages ---------------------------------------------------------------------------

function showError(box, message) {
  box.textContent = message;
  box.hidden = false;
}

function clearError(box) {
  box.textContent = "";
  box.hidden = true;
}

let toastTimer = null;

function hideToast() {
  const toast = byId("toast");
  if (toast) toast.hidden = true;
}

function showToast(message, isError = false) {
  const toast = byId("toast");
  if (!toast) return;
  toast.textContent = message;
  toast.classList.toggle("toast-error", isError);
  toast.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { toast.hidden = true; }, isError ? 8000 : 5000);
}

// ---- Times ------------------------------------------------------------------------------

function pad2(n) {
  return String(n).padStart(2, "0");
}

// Unix seconds as local "YYYY-MM-DD HH:MM:SS", as the server writes them.
function localTime(secs) {
  const d = new Date(secs * 1000);
  return d.getFullYear() + "-" + pad2(d.getMonth() + 1) + "-" + pad2(d.getDate()) + " "
    + pad2(d.getHours()) + ":" + pad2(d.getMinutes()) + ":" + pad2(d.getSeconds());
}

// "3 hours ago", as the server writes it.
function relativeTime(secs) {
  const seconds = Math.max(0, Math.floor(Date.now() / 1000 - secs));
  if (seconds < 60) return "just now";
  const units = [[31536000, "year"], [2592000, "month"], [86400, "day"], [3600, "hour"], [60, "minute"]];
  const [size, unit] = units.find(([s]) => seconds >= s);
  const value = Math.floor(seconds / size);
  return value + " " + unit + (value === 1 ? "" : "s") + " ago";
}

// A <time> showing `text`, with the full local time as its tooltip.
function timeElement(secs, text) {
  const el = document.createElement("time");
  el.title = localTime(secs);
  el.textContent = text;
  return el;
}

// ---- Dialogs ----------------------------------------------------------------------------

function openDialog(dialog, targetName = "", provider = "credentials") {
  const form = dialog.querySelector("form");
  hideToast();
  form.reset();
  hidePasswords(dialog);
  clearError(dialog.querySelector(".form-error"));
  setBusy(form, false);
  dialog.dataset.user = targetName;
  dialog.dataset.provider = provider;
  dialog.querySelectorAll("[data-target-name]").forEach((el) => { el.textContent = targetName; });
  dialog.querySelectorAll("[data-target-value]").forEach((el) => { el.value = targetName; });
  if (!dialog.open) dialog.showModal();
  const first = firstField(dialog) || dialog.querySelector(".modal-actions [data-close]");
  if (first) first.focus();
}

function firstField(dialog) {
  return dialog.querySelector(".modal-body input:not([hidden]):not([type=checkbox]):not(:disabled)");
}

// A refusal of a dialog's form: `message`, and the id of the field to correct.
function refusal(message, field) {
  return { message, field };
}

// Puts the cursor back where the user has to correct something: the field `id`, else the
// dialog's first field, else its confirming button.
function focusField(dialog, id) {
  const target = (id && byId(id)) || firstField(dialog)
    || dialog.querySelector(".modal-actions button[type=submit]");
  if (!target) return;
  target.focus();
  if (target.tagName === "INPUT" && target.value) target.select();
}

// A page form's refusal: `message` in its error `box`, and the cursor in the field `id`.
function refuseField(box, message, id) {
  showError(box, sentence(message));
  const field = byId(id);
  if (!field) return;
  field.focus();
  if (field.value) field.select();
}

function setBusy(form, busy) {
  form.querySelectorAll("button[type=submit]").forEach((b) => { b.disabled = busy; });
  form.setAttribute("aria-busy", busy ? "true" : "false");
}

// Runs `handler(dialog)` when the dialog's form is submitted. The handler returns an error
// message, or a `refusal(message, field)`, to show in the dialog (which then keeps what was
// typed and puts the cursor in the field concerned), or nothing to close it.
function onDialogSubmit(dialog, handler) {
  if (!dialog) return;
  const form = dialog.querySelector("form");
  const error = dialog.querySelector(".form-error");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (form.getAttribute("aria-busy") === "true") return;
    clearError(error);
    setBusy(form, true);
    let outcome;
    try {
      outcome = await handler(dialog);
    } finally {
      setBusy(form, false);
    }
    if (outcome) {
      const refused = typeof outcome === "string" ? refusal(outcome) : outcome;
      showError(error, sentence(refused.message));
      focusField(dialog, refused.field);
    } else {
      dialog.close();
    }
  });
}

function setupDialogs() {
  document.querySelectorAll("dialog.modal").forEach((dialog) => {
    dialog.querySelectorAll("[data-close]").forEach((button) => {
      button.addEventListener("click", () => dialog.close());
    });
    // A password shown in a dialog is hidden again when it closes.
    dialog.addEventListener("close", () => hidePasswords(dialog));
    // A click on the backdrop (the dialog box itself has no padding) closes it, unless
    // the press started inside (selecting text in a field and releasing outside).
    let pressedOnBackdrop = false;
    dialog.addEventListener("mousedown", (event) => { pressedOnBackdrop = event.target === dialog; });
    dialog.addEventListener("click", (event) => {
      if (event.target === dialog && pressedOnBackdrop) dialog.close();
    });
  });
  document.querySelectorAll("[data-open]").forEach((button) => {
    button.addEventListener("click", () => {
      const dialog = byId(button.dataset.open);
      if (dialog) openDialog(dialog);
    });
  });
}

function fieldValue(id) {
  const input = byId(id);
  return input ? input.value : "";
}

// ---- Show password ----------------------------------------------------------------------

// The eye button next to a password input (`data-reveal` names the input) switches it
// between hidden and shown; `aria-pressed` says which.
function setRevealed(button, shown) {
  const input = byId(button.dataset.reveal);
  if (!input) return;
  input.type = shown ? "text" : "password";
  button.setAttribute("aria-pressed", shown ? "true" : "false");
}

function hidePasswords(root) {
  root.querySelectorAll("button[data-reveal]").forEach((button) => setRevealed(button, false));
}

function setupRevealButtons() {
  document.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-reveal]");
    if (button) setRevealed(button, button.getAttribute("aria-pressed") !== "true");
  });
}

// ---- Sign in and out --------------------------------------------------------------------

function formatWait(seconds) {
  if (seconds < 90) return seconds + (seconds === 1 ? " second" : " seconds");
  const minutes = Math.ceil(seconds / 60);
  if (minutes < 90) return minutes + " minutes";
  return Math.ceil(minutes / 60) + " hours";
}

// What the next page's sign-in form is to say (kept for this tab only).
const SIGN_IN_NOTICE = "llms-sign-in-notice";

function leaveSignInNotice(message, userName) {
  try {
    sessionStorage.setItem(SIGN_IN_NOTICE, JSON.stringify({ message, userName }));
  } catch (_) {
    // Storage refused: the sign-in page simply says nothing.
  }
}

function takeSignInNotice() {
  try {
    const saved = sessionStorage.getItem(SIGN_IN_NOTICE);
    sessionStorage.removeItem(SIGN_IN_NOTICE);
    return saved ? JSON.parse(saved) : null;
  } catch (_) {
    return null;
  }
}

// The wait of a refused, throttled request, in words ("Too many ... Try again in 5 minutes."),
// or null when the answer is not one.
function throttledMessage(result) {
  if (result.status !== 429) return null;
  const status = (result.data && result.data.responseStatus) || {};
  const header = result.response && parseInt(result.response.headers.get("Retry-After"), 10);
  const wait = header > 0 ? header : Number(status.retryAfter);
  if (!(wait > 0)) return null;
  return sentence(status.reason || status.message || "Too many attempts") + " Try again in " + formatWait(wait) + ".";
}

function setupSignIn() {
  const form = byId("sign-in-form");
  if (!form) return;
  const error = form.querySelector(".form-error");
  const button = form.querySelector("button[type=submit]");
  const credentials = byId("sign-in-credentials");
  const codeStep = byId("sign-in-code-step");
  const codeInput = byId("sign-in-code");
  const recoveryToggle = byId("sign-in-use-recovery");
  const backLine = byId("sign-in-back-line");
  let countdown = null;
  // The second step (two-factor sign-in): the username and password already accepted,
  // kept here while the code is asked for, and whether a recovery code is being typed.
  let pending = null;
  let recovery = false;

  const notice = takeSignInNotice();
  const noticeBox = document.querySelector("[data-testid=sign-in-notice]");
  if (notice && noticeBox && typeof notice.message === "string") {
    noticeBox.textContent = notice.message;
    noticeBox.hidden = false;
    if (typeof notice.userName === "string" && notice.userName) {
      form.username.value = notice.userName;
      form.password.focus();
    }
  }

  // `reason` says which limit (this account's failures, or this address's).
  function throttled(reason, seconds) {
    clearInterval(countdown);
    let left = seconds;
    const tick = () => {
      if (left <= 0) {
        clearInterval(countdown);
        clearError(error);
        button.disabled = false;
        return;
      }
      showError(error, sentence(reason) + " Try again in " + formatWait(left) + ".");
      button.disabled = true;
      left -= 1;
    };
    tick();
    countdown = setInterval(tick, 1000);
  }

  // The code step asks for the app's 6 digits, or (switched) for a recovery code.
  function useRecoveryCode(on) {
    recovery = on;
    byId("sign-in-code-label").textContent = on
      ? "Enter one of your recovery codes" : "Enter the 6-digit code from your authenticator app";
    byId("sign-in-code-hint").textContent = on
      ? "Like abcde-fghij. Each recovery code works once." : "The code changes every 30 seconds.";
    codeInput.setAttribute("inputmode", on ? "text" : "numeric");
    codeInput.setAttribute("autocomplete", on ? "off" : "one-time-code");
    recoveryToggle.textContent = on ? "Use the code from your app" : "Use a recovery code";
    codeInput.value = "";
  }

  function showCodeStep(username, password) {
    pending = { username, password };
    credentials.hidden = true;
    form.password.value = "";
    hidePasswords(form);
    byId("sign-in-code-user").textContent = username;
    useRecoveryCode(false);
    codeStep.hidden = false;
    backLine.hidden = false;
    button.textContent = "Verify";
    codeInput.focus();
  }

  // Back to the username and password (to start again).
  function showCredentials() {
    pending = null;
    codeStep.hidden = true;
    backLine.hidden = true;
    credentials.hidden = false;
    codeInput.value = "";
    button.textContent = "Sign In";
    // A wait being counted down stays on show.
    if (!button.disabled) clearError(error);
    form.password.focus();
  }

  recoveryToggle.addEventListener("click", () => {
    useRecoveryCode(!recovery);
    clearError(error);
    codeInput.focus();
  });
  byId("sign-in-back").addEventListener("click", showCredentials);

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (button.disabled) return;
    clearError(error);
    let json;
    if (pending) {
      const code = codeInput.value.trim();
      if (!code) {
        showError(error, recovery ? "Enter one of your recovery codes." : "Enter the 6-digit code from your app.");
        codeInput.focus();
        return;
      }
      json = { username: pending.username, password: pending.password, code };
    } else {
      const username = form.username.value.trim();
      const password = form.password.value;
      if (!username || !password) {
        showError(error, "Enter your username and password.");
        (username ? form.password : form.username).focus();
        return;
      }
      json = { username, password };
    }
    button.disabled = true;
    const result = await request("/auth/login", { json });
    button.disabled = false;
    if (result.ok) {
      hidePasswords(form);
      if (result.data && result.data.mustChangePassword === true) {
        showChoosePassword(json.username, json.password);
        return;
      }
      window.location.assign(form.dataset.next || "/");
      return;
    }
    const status = (result.data && result.data.responseStatus) || {};
    const wait = result.response && parseInt(result.response.headers.get("Retry-After"), 10);
    if (result.status === 401 && status.errorCode === "TwoFactorRequired") {
      if (!pending) {
        showCodeStep(json.username, json.password);
        return;
      }
      // A code was sent: it was wrong, or already used.
      showError(error, recovery
        ? "That recovery code is not right, or was used already."
        : "That code is not right: enter the one your app shows now.");
    } else if (result.status === 429 && wait > 0) {
      throttled(status.reason || "Too many failed sign-ins.", wait);
    } else if (result.status === 403 && status.locked === true) {
      // Only a locked account says so; any other 403 (a refused cross-site request, say)
      // is shown as it is.
      showError(error, sentence("This account is locked: " + status.message));
    } else if (pending && result.status === 401) {
      // The password stopped working meanwhile (changed elsewhere): start again.
      showCredentials();
      showError(error, errorMessage(result));
      return;
    } else {
      showError(error, errorMessage(result));
    }
    const field = pending ? codeInput : form.password;
    field.focus();
    field.select();
  });
}

// The sign-in page, after a sign-in whose password an Admin chose: "Choose your
// password" in place of the sign-in form, with the password just typed as the current one.
function showChoosePassword(username, password) {
  const panel = byId("choose-password");
  const step = byId("sign-in-step");
  const form = byId("sign-in-form");
  if (!panel || !step) {
    window.location.assign((form && form.dataset.next) || "/");
    return;
  }
  step.hidden = true;
  panel.hidden = false;
  panel.querySelectorAll("[data-choose-user]").forEach((el) => { el.textContent = username; });
  byId("choose-username").value = username;
  byId("choose-current-password").value = password;
  byId("choose-current").hidden = true;
  document.title = "Choose your password · llms";
  byId("choose-new-password").focus();
}

// "Choose your password" (its own page, or in place on the sign-in page): the current
// password (the one given) and a new one, then on to `next`.
function setupChoosePassword() {
  const form = byId("choose-password-form");
  if (!form) return;
  const error = form.querySelector(".form-error");
  const current = byId("choose-current");
  const refuse = (message, id) => {
    if (id === "choose-current-password") current.hidden = false;
    refuseField(error, message, id);
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (form.getAttribute("aria-busy") === "true") return;
    clearError(error);
    const currentPassword = fieldValue("choose-current-password");
    const newPassword = fieldValue("choose-new-password");
    if (!currentPassword) return refuse("Enter the password you were given.", "choose-current-password");
    if (!newPassword) return refuse("Enter a new password.", "choose-new-password");
    if (newPassword !== fieldValue("choose-confirm-password")) {
      return refuse("The new passwords do not match.", "choose-confirm-password");
    }
    if (newPassword === currentPassword) {
      return refuse("Choose a password of your own, not the one you were given.", "choose-new-password");
    }
    setBusy(form, true);
    const result = await request("/account/change-password", { json: { currentPassword, newPassword } });
    setBusy(form, false);
    if (result.ok) {
      hidePasswords(form);
      window.location.assign(form.dataset.next || "/");
      return undefined;
    }
    if (result.status === 401) {
      refuse("Your session has ended: sign in again.", "choose-new-password");
      window.location.assign("/login?next=" + encodeURIComponent(form.dataset.next || "/"));
      return undefined;
    }
    const message = throttledMessage(result) || errorMessage(result);
    const aboutCurrent = result.status === 429 || /current|incorrect/i.test(message);
    return refuse(message, aboutCurrent ? "choose-current-password" : "choose-new-password");
  });
}

// ---- Reset links ------------------------------------------------------------------------

// The reset page (`/reset#TOKEN`): the token is read from the fragment, never sent in a
// URL, posted with the new password, and taken out of the address bar once used.
function setupReset() {
  const form = byId("reset-form");
  if (!form) return;
  const error = form.querySelector(".form-error");
  const token = window.location.hash.replace(/^#/, "").trim();
  const forgetToken = () => {
    history.replaceState(null, "", window.location.pathname + window.location.search);
  };
  const problem = (box) => {
    form.hidden = true;
    byId("reset-intro").hidden = true;
    box.hidden = false;
    byId("reset-problem-links").hidden = false;
  };
  // Another link opened in this tab changes only the fragment: start again with it.
  window.addEventListener("hashchange", () => window.location.reload());
  if (!token) {
    problem(byId("reset-no-token"));
    return;
  }
  byId("reset-new-password").focus();
  const refuse = (message, id) => refuseField(error, message, id);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (form.getAttribute("aria-busy") === "true") return;
    clearError(error);
    const newPassword = fieldValue("reset-new-password");
    if (!newPassword) return refuse("Enter a new password.", "reset-new-password");
    if (newPassword !== fieldValue("reset-confirm-password")) {
      return refuse("The passwords do not match.", "reset-confirm-password");
    }
    setBusy(form, true);
    const result = await request("/auth/reset", { json: { token, newPassword } });
    setBusy(form, false);
    if (result.ok) {
      forgetToken();
      const name = result.data && typeof result.data.userName === "string" ? result.data.userName : "";
      byId("reset-username").value = name;
      hidePasswords(form);
      form.reset();
      form.hidden = true;
      byId("reset-intro").hidden = true;
      byId("reset-title").textContent = "Password set";
      const detail = byId("reset-done-detail");
      if (name) {
        const strong = document.createElement("strong");
        strong.textContent = name;
        detail.replaceChildren("Sign in as ", strong, " with your new password. The account was signed out everywhere.");
      }
      leaveSignInNotice("Your password is set: sign in with it.", name);
      byId("reset-done").hidden = false;
      document.querySelector("[data-testid=reset-sign-in]").focus();
      return undefined;
    }
    const message = throttledMessage(result) || errorMessage(result);
    if (result.status === 400 && /reset link/i.test(message)) {
      // Used, replaced or expired: trying again cannot help.
      forgetToken();
      const refused = byId("reset-refused");
      refused.textContent = message;
      problem(refused);
      return undefined;
    }
    const aboutConfirm = /match/i.test(message);
    return refuse(message, aboutConfirm ? "reset-confirm-password" : "reset-new-password");
  });
}

function setupSignOut() {
  document.querySelectorAll("form[data-sign-out]").forEach((form) => {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const result = await request("/auth/logout");
      if (result.ok) {
        window.location.assign("/login");
      } else {
        showToast("Signing out failed: " + errorMessage(result), true);
      }
    });
  });
}

function setupMenu() {
  const menus = () => document.querySelectorAll("details.user-menu[open]");
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    menus().forEach((menu) => {
      menu.removeAttribute("open");
      menu.querySelector("summary").focus();
    });
  });
  document.addEventListener("click", (event) => {
    menus().forEach((menu) => {
      if (!menu.contains(event.target)) menu.removeAttribute("open");
    });
  });
}

// ---- Manage Users -----------------------------------------------------------------------

// The search and the sort of the users table. They live here, not in the table, so that
// they stay when the table is replaced by a fresh one after an action.
const usersView = { query: "", column: -1, descending: false };
const collator = new Intl.Collator(undefined, { sensitivity: "base", numeric: true });

function compareNumbers(a, b) {
  if (a === b) return 0;
  return a < b ? -1 : 1;
}

// The text a search looks in: the username (and its badges), the roles and the status
// (with the lock reason), as shown.
function searchText(row) {
  return Array.from(row.cells).slice(0, 3).map((cell) => cell.textContent).join(" ").toLowerCase();
}

// Sorts the table by the chosen column (by each cell's `data-sort` value: a timestamp for
// dates, never the text shown), hides the rows that do not match the search, and updates
// the count, the "no match" line and `aria-sort`.
function applyUsersView() {
  const table = document.querySelector("#users-table table.users");
  const tools = byId("user-tools");
  const count = byId("user-count");
  const noMatch = byId("no-match");
  const body = table && table.tBodies[0];
  const rows = body ? Array.from(body.rows) : [];
  if (tools) tools.hidden = rows.length === 0;
  if (!table || !body) {
    if (noMatch) noMatch.hidden = true;
    return;
  }

  const headers = Array.from(table.tHead.rows[0].cells);
  headers.forEach((th, index) => {
    if (index === usersView.column) {
      th.setAttribute("aria-sort", usersView.descending ? "descending" : "ascending");
    } else {
      th.removeAttribute("aria-sort");
    }
  });
  const sorted = headers[usersView.column];
  if (sorted) {
    const numeric = sorted.dataset.sortType === "number";
    const keyOf = (row) => {
      const cell = row.cells[usersView.column];
      const value = (cell && cell.dataset.sort) || "";
      if (!numeric) return value;
      return value === "" ? -Infinity : Number(value);
    };
    const entries = rows.map((row, index) => ({ row, index, key: keyOf(row) }));
    entries.sort((a, b) => {
      let order = numeric ? compareNumbers(a.key, b.key) : collator.compare(a.key, b.key);
      if (order === 0) order = collator.compare(a.row.dataset.user, b.row.dataset.user);
      if (order === 0) order = a.index - b.index;
      return usersView.descending ? -order : order;
    });
    entries.forEach(({ row }) => body.appendChild(row));
  }

  const terms = usersView.query.toLowerCase().split(/\s+/).filter(Boolean);
  let shown = 0;
  rows.forEach((row) => {
    const text = searchText(row);
    const match = terms.every((term) => text.includes(term));
    row.hidden = !match;
    if (match) shown += 1;
  });
  const total = rows.length + (rows.length === 1 ? " user" : " users");
  if (count) count.textContent = terms.length ? shown + " of " + total : total;
  if (noMatch) {
    noMatch.hidden = shown > 0;
    const query = byId("no-match-query");
    if (query) query.textContent = usersView.query.trim();
  }
}

function sortUsersBy(th) {
  const column = th.cellIndex;
  if (usersView.column === column) {
    usersView.descending = !usersView.descending;
  } else {
    usersView.column = column;
    usersView.descending = false;
  }
  applyUsersView();
}

// Replaces the users table with a fresh one from the server, flashing the row `highlight`.
// The search and the sort stay, and so does the focus when it was on a row's action.
async function refreshUsers(highlight) {
  let response;
  try {
    response = await fetch("/admin/table", { credentials: "same-origin" });
  } catch (_) {
    showToast("The list of users could not be refreshed.", true);
    return;
  }
  if (response.status === 401) return signInAgain();
  if (response.status === 403) return window.location.reload();
  if (!response.ok) {
    showToast("The list of users could not be refreshed (" + response.status + ").", true);
    return;
  }
  const parsed = new DOMParser().parseFromString(await response.text(), "text/html");
  const fresh = parsed.getElementById("users-table");
  const current = byId("users-table");
  if (!fresh || !current) return;
  const focused = document.activeElement && document.activeElement.closest
    && document.activeElement.closest("#users-table tr[data-user]");
  const focusedRow = focused && { user: focused.dataset.user, provider: focused.dataset.provider };
  const table = document.importNode(fresh, true);
  current.replaceWith(table);
  applyUsersView();
  const rows = Array.from(table.querySelectorAll("tr[data-user]"));
  if (highlight) {
    rows.forEach((row) => {
      if (row.dataset.user === highlight) row.classList.add("flash");
    });
  }
  if (focusedRow) {
    const row = rows.find((r) => r.dataset.user === focusedRow.user
      && r.dataset.provider === focusedRow.provider);
    const button = row && !row.hidden && row.querySelector("button[data-action]");
    if (button) button.focus();
  }
}

// Runs an admin request; returns an error message, or nothing after refreshing the table
// and reporting `done`.
async function adminAction(url, options, name, done) {
  const result = await request(url, options);
  if (result.status === 401) {
    signInAgain();
    return "Your session has ended.";
  }
  if (!result.ok) return errorMessage(result);
  showToast(done);
  await refreshUsers(name);
  return undefined;
}

// The roles of a row (a JSON array in `data-roles`), with "Admin" added or taken away and
// every other role kept as it is.
function rolesWithAdmin(row, admin) {
  let roles = [];
  try {
    roles = JSON.parse(row.dataset.roles || "[]");
  } catch (_) {
    roles = [];
  }
  if (!Array.isArray(roles)) roles = [];
  roles = roles.filter((role) => role !== "Admin");
  if (admin) roles.push("Admin");
  return roles;
}

// Runs a row's one-click action (no dialog): disables its button meanwhile, and shows the
// server's refusal as an error.
async function rowAction(button, json, name, done) {
  button.disabled = true;
  const error = await adminAction("/admin/users", { method: "PUT", json }, name, done);
  if (error) {
    button.disabled = false;
    showToast(error, true);
  }
}

// After the first user exists, the next one is an ordinary user again (when creating it
// did not switch sign-in on, as with `--auth none`).
function endFirstUser(dialog) {
  const admin = byId("new-user-admin");
  if (admin && admin.disabled) {
    admin.disabled = false;
    admin.defaultChecked = false;
    admin.checked = false;
  }
  const note = dialog.querySelector("[data-testid=first-user-note]");
  if (note) note.remove();
}

function setupManageUsers() {
  const page = byId("manage-users");
  if (!page) return;
  const dialogs = {
    create: byId("create-user-dialog"),
    password: byId("password-dialog"),
    lock: byId("lock-dialog"),
    remove: byId("delete-dialog"),
    resetTwoFactor: byId("reset-2fa-dialog"),
  };
  setupResetLinkDialog();

  const search = byId("user-search");
  if (search) {
    const filter = () => {
      if (usersView.query === search.value) return;
      usersView.query = search.value;
      applyUsersView();
    };
    // Live as you type; "change" also catches a value set without typing (a cleared field).
    search.addEventListener("input", filter);
    search.addEventListener("change", filter);
  }
  applyUsersView();

  page.addEventListener("click", async (event) => {
    const sort = event.target.closest("#users-table th button.sort");
    if (sort) {
      sortUsersBy(sort.closest("th"));
      return;
    }
    const button = event.target.closest("button[data-action]");
    const row = button && button.closest("tr[data-user]");
    if (!row) return;
    const name = row.dataset.user;
    const provider = row.dataset.provider;
    switch (button.dataset.action) {
      case "password": openDialog(dialogs.password, name, provider); break;
      case "lock": openDialog(dialogs.lock, name, provider); break;
      case "delete": openDialog(dialogs.remove, name, provider); break;
      case "keys": openUserKeys(name, provider); break;
      case "sessions": openUserSessions(name); break;
      case "reset-link": await makeResetLink(button, name); break;
      case "reset-2fa": openDialog(dialogs.resetTwoFactor, name, provider); break;
      case "unlock":
        await rowAction(button, { userName: name, provider, locked: false },
          name, "User '" + name + "' unlocked.");
        break;
      case "make-admin":
        await rowAction(button, { userName: name, provider, roles: rolesWithAdmin(row, true) },
          name, "User '" + name + "' is now an Admin.");
        break;
      case "remove-admin":
        await rowAction(button, { userName: name, provider, roles: rolesWithAdmin(row, false) },
          name, "User '" + name + "' is no longer an Admin.");
        break;
      default: break;
    }
  });

  onDialogSubmit(dialogs.create, async (dialog) => {
    const userName = fieldValue("new-username").trim();
    const password = fieldValue("new-user-password");
    if (!userName) return refusal("Enter a username.", "new-username");
    if (!password) return refusal("Enter a password.", "new-user-password");
    if (password !== fieldValue("new-user-confirm")) {
      return refusal("The passwords do not match.", "new-user-confirm");
    }
    const roles = byId("new-user-admin").checked ? ["Admin"] : [];
    const result = await request("/admin/users", { json: { userName, password, roles } });
    if (result.status === 401) {
      signInAgain();
      return "Your session has ended.";
    }
    if (!result.ok) {
      const message = errorMessage(result);
      return refusal(message, /password/i.test(message) ? "new-user-password" : "new-username");
    }
    const data = result.data || {};
    const created = typeof data.userName === "string" ? data.userName : userName;
    const admin = Array.isArray(data.roles) && data.roles.includes("Admin");
    if (data.signInRequired === true) {
      // The first user switched authentication on: this page's visitor is nobody now.
      leaveSignInNotice("User '" + created + "' was created as an Admin, and authentication is now on."
        + " Sign in as " + created + " to continue.", created);
      window.location.assign("/login?next=/admin");
      return undefined;
    }
    endFirstUser(dialog);
    showToast("User '" + created + "' created" + (admin ? " as an Admin." : "."));
    await refreshUsers(created);
    return undefined;
  });

  onDialogSubmit(dialogs.password, async (dialog) => {
    const name = dialog.dataset.user;
    const provider = dialog.dataset.provider;
    const password = fieldValue("reset-password");
    if (!password) return refusal("Enter the new password.", "reset-password");
    if (password !== fieldValue("reset-confirm")) {
      return refusal("The passwords do not match.", "reset-confirm");
    }
    const error = await adminAction("/admin/users",
      { method: "PUT", json: { userName: name, provider, password } },
      name, "Password of '" + name + "' changed.");
    return error && refusal(error, "reset-password");
  });

  onDialogSubmit(dialogs.lock, async (dialog) => {
    const name = dialog.dataset.user;
    const provider = dialog.dataset.provider;
    // No reason: `true`, and the server records its default reason.
    const reason = fieldValue("lock-reason").trim() || true;
    const error = await adminAction("/admin/users",
      { method: "PUT", json: { userName: name, provider, locked: reason } },
      name, "User '" + name + "' locked.");
    return error && refusal(error, "lock-reason");
  });

  onDialogSubmit(dialogs.remove, async (dialog) => {
    const name = dialog.dataset.user;
    const query = "?provider=" + encodeURIComponent(dialog.dataset.provider);
    return adminAction("/admin/users/" + encodeURIComponent(name) + query, { method: "DELETE" },
      null, "User '" + name + "' deleted.");
  });

  onDialogSubmit(dialogs.resetTwoFactor, async (dialog) => {
    const name = dialog.dataset.user;
    const result = await request("/admin/users/" + encodeURIComponent(name) + "/2fa", { method: "DELETE" });
    if (result.status === 401) {
      signInAgain();
      return "Your session has ended.";
    }
    if (!result.ok) return errorMessage(result);
    const wasOn = !(result.data && result.data.wasOn === false);
    showToast("Two-factor sign-in of '" + name + "' " + (wasOn ? "turned off." : "was already off."));
    await refreshUsers(name);
    return undefined;
  });
}

// ---- Manage Users: reset links ----------------------------------------------------------

// Makes a one-time reset link for `name` and shows it, this once, with its Copy button.
async function makeResetLink(button, name) {
  const dialog = byId("reset-link-dialog");
  if (!dialog) return;
  button.disabled = true;
  const result = await request("/admin/users/" + encodeURIComponent(name) + "/reset-link");
  button.disabled = false;
  if (result.status === 401) return signInAgain();
  if (!result.ok) {
    showToast("No reset link: " + errorMessage(result), true);
    return;
  }
  const data = result.data || {};
  if (typeof data.link !== "string" || !data.link) {
    showToast("The link was made but not shown: make another.", true);
    return;
  }
  openDialog(dialog, name);
  byId("reset-link-value").value = data.link.startsWith("/") ? window.location.origin + data.link : data.link;
  const minutes = Math.round(Number(data.expiresIn) / 60);
  if (minutes > 0) {
    byId("reset-link-lifetime").textContent = minutes === 1 ? "1 minute" : minutes + " minutes";
  }
  byId("reset-link-copy-hint").hidden = true;
  byId("copy-reset-link").focus();
}

function setupResetLinkDialog() {
  const dialog = byId("reset-link-dialog");
  if (!dialog) return;
  const value = byId("reset-link-value");
  byId("copy-reset-link").addEventListener("click", async () => {
    const copied = await copyText(value.value, value);
    byId("reset-link-copy-hint").hidden = copied;
    if (copied) showToast("The link was copied to the clipboard.");
  });
  // Shown once: gone from the page when the dialog closes.
  dialog.addEventListener("close", () => { value.value = ""; });
}

// ---- My Account -------------------------------------------------------------------------

function setupAccount() {
  const button = byId("avatar-button");
  const input = byId("avatar-input");
  if (button && input) {
    const error = byId("avatar-error");
    const maxBytes = Number(input.dataset.maxBytes) || 2 * 1024 * 1024;
    const tooLarge = "That image is too large: the limit is " + (maxBytes / (1024 * 1024)) + " MiB.";
    button.addEventListener("click", () => input.click());
    input.addEventListener("change", async () => {
      const file = input.files && input.files[0];
      if (!file) return;
      clearError(error);
      hideToast();
      if (file.size > maxBytes) {
        showError(error, tooLarge);
        input.value = "";
        return;
      }
      const body = new FormData();
      body.append("file", file, file.name);
      button.disabled = true;
      button.classList.add("busy");
      const result = await request("/user/avatar", { body });
      button.disabled = false;
      button.classList.remove("busy");
      input.value = "";
      if (result.ok) {
        const url = AVATAR_URL + "?v=" + Date.now();
        document.querySelectorAll("img[data-avatar]").forEach((img) => { img.src = url; });
        showToast("Your avatar was updated.");
      } else if (result.status === 401) {
        signInAgain();
      } else {
        showError(error, result.status === 413 ? tooLarge : errorMessage(result));
      }
    });
  }

  onDialogSubmit(byId("account-password-dialog"), async () => {
    const currentPassword = fieldValue("current-password");
    const newPassword = fieldValue("new-password");
    if (!currentPassword) return refusal("Enter your current password.", "current-password");
    if (!newPassword) return refusal("Enter a new password.", "new-password");
    if (newPassword !== fieldValue("confirm-password")) {
      return refusal("The new passwords do not match.", "confirm-password");
    }
    const result = await request("/account/change-password", { json: { currentPassword, newPassword } });
    if (result.status === 401) {
      signInAgain();
      return "Your session has ended.";
    }
    if (!result.ok) {
      // A wrong current password (or too many of them) is corrected there; a refused new
      // one (too short, say) in the new password's field.
      const message = errorMessage(result);
      const aboutNew = result.status !== 429 && !/current/i.test(message) && /password/i.test(message);
      return refusal(message, aboutNew ? "new-password" : "current-password");
    }
    showToast("Your password was changed.");
    return undefined;
  });
}

// ---- API keys ---------------------------------------------------------------------------

// Whether a key list item `key` (JSON of the key routes) has expired.
function keyExpired(key) {
  return typeof key.expires === "number" && Date.now() / 1000 >= key.expires;
}

// One key as a list item, the same markup as the server's (views/keys.rs): name, hint,
// limits, created, expires, last used and Revoke. Text only, never markup.
function keyItem(key) {
  const item = document.createElement("li");
  item.className = "key-item";
  item.dataset.keyId = key.id;
  item.dataset.testid = "key-item";
  const main = document.createElement("div");
  main.className = "key-main";

  const title = document.createElement("div");
  title.className = "key-title";
  const name = document.createElement("span");
  name.className = "key-name";
  name.dataset.testid = "key-name";
  name.textContent = key.name;
  title.appendChild(name);
  const expired = keyExpired(key);
  if (expired) {
    const badge = document.createElement("span");
    badge.className = "badge badge-danger";
    badge.dataset.testid = "key-expired";
    badge.textContent = "Expired";
    title.append(" ", badge);
  }
  main.appendChild(title);

  const hint = document.createElement("code");
  hint.className = "key-hint";
  hint.dataset.testid = "key-hint";
  hint.textContent = key.hint;
  main.appendChild(hint);

  const limits = [];
  if (Array.isArray(key.models)) limits.push("Models: " + key.models.join(", "));
  if (typeof key.rpm === "number") limits.push(key.rpm + " requests per minute");
  if (limits.length) {
    const line = document.createElement("div");
    line.className = "key-limits muted";
    line.dataset.testid = "key-limits";
    line.textContent = limits.join(" · ");
    main.appendChild(line);
  }

  const meta = document.createElement("div");
  meta.className = "key-meta muted";
  const created = document.createElement("span");
  created.append("Created ", timeElement(key.created, localTime(key.created).slice(0, 10)));
  const expires = document.createElement("span");
  expires.dataset.testid = "key-expires";
  expires.append(expired ? "Expired " : "Expires ");
  expires.append(typeof key.expires === "number"
    ? timeElement(key.expires, localTime(key.expires).slice(0, 10)) : "never");
  const used = document.createElement("span");
  used.dataset.testid = "key-last-used";
  used.append("Last used ", typeof key.lastUsed === "number"
    ? timeElement(key.lastUsed, relativeTime(key.lastUsed)) : "never");
  meta.append(created, expires, used);
  main.appendChild(meta);
  item.appendChild(main);

  const revoke = document.createElement("button");
  revoke.type = "button";
  revoke.className = "icon-btn icon-btn-danger";
  revoke.dataset.revokeKey = key.id;
  revoke.dataset.keyName = key.name;
  revoke.title = "Revoke key";
  revoke.setAttribute("aria-label", "Revoke the API key " + key.name);
  const icon = byId("revoke-icon");
  if (icon) revoke.appendChild(icon.content.cloneNode(true));
  item.appendChild(revoke);
  return item;
}

// Replaces My Account's list of keys with a fresh one (the page, fetched again, renders
// it), flashing the key `highlight`.
async function refreshOwnKeys(highlight) {
  let response;
  try {
    response = await fetch("/account", { credentials: "same-origin" });
  } catch (_) {
    showToast("The list of keys could not be refreshed.", true);
    return;
  }
  if (response.status === 401) return signInAgain();
  if (!response.ok) {
    showToast("The list of keys could not be refreshed (" + response.status + ").", true);
    return;
  }
  const parsed = new DOMParser().parseFromString(await response.text(), "text/html");
  const fresh = parsed.getElementById("keys-list");
  const current = byId("keys-list");
  if (!fresh || !current) return;
  const list = document.importNode(fresh, true);
  current.replaceWith(list);
  if (highlight) {
    list.querySelectorAll("li[data-key-id]").forEach((item) => {
      if (item.dataset.keyId === highlight) item.classList.add("flash");
    });
  }
}

// Shows the key just made (its `id`), once, with its Copy button.
function showNewKey(name, key, id) {
  const box = byId("new-key");
  const value = byId("new-key-value");
  if (!box || !value) return;
  box.dataset.keyId = id;
  byId("new-key-name").textContent = name;
  value.value = key;
  byId("copy-hint").hidden = true;
  box.hidden = false;
  box.scrollIntoView({ block: "nearest" });
  byId("copy-key").focus();
}

// Copies `text`: with the clipboard API where the page may use it, else by selecting
// `target` (an input, or any element's text) and asking the browser to copy the
// selection. True when copied; otherwise `target` stays selected, for Ctrl+C.
async function copyText(text, target) {
  let copied = false;
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      copied = true;
    } catch (_) {
      // Refused (no permission, page not focused): select it instead.
    }
  }
  if (target.tagName === "INPUT" || target.tagName === "TEXTAREA") {
    target.focus();
    target.select();
    target.setSelectionRange(0, target.value.length);
  } else {
    const range = document.createRange();
    range.selectNodeContents(target);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }
  if (!copied) {
    try {
      copied = document.execCommand("copy");
    } catch (_) {
      copied = false;
    }
  }
  return copied;
}

// Copies the new key (or selects it for Ctrl+C); says which happened.
async function copyNewKey() {
  const value = byId("new-key-value");
  const copied = await copyText(value.value, value);
  byId("copy-hint").hidden = copied;
  if (copied) showToast("The key was copied to the clipboard.");
}

// The models the gateway offers (GET /v1/models), as a list of ids; `null` when they
// could not be listed, with the reason in `error`.
async function listModels() {
  let response;
  try {
    response = await fetch("/v1/models", { credentials: "same-origin", headers: { Accept: "application/json" } });
  } catch (_) {
    return { ids: null, error: "The server could not be reached. Check your connection and try again." };
  }
  let data = null;
  try {
    data = await response.json();
  } catch (_) {
    // No JSON body.
  }
  if (!response.ok) return { ids: null, error: gatewayMessage(response.status, data), status: response.status };
  const list = data && Array.isArray(data.data) ? data.data : [];
  const ids = list.map((m) => m && m.id).filter((id) => typeof id === "string" && id !== "");
  return { ids, error: null };
}

// The message of a refusal on /v1 (OpenAI's `{"error":{"message"}}`), or of the other routes'
// shape, or one that says what the status was.
function gatewayMessage(status, data) {
  const error = data && data.error;
  const message = (error && typeof error.message === "string" && error.message)
    || (data && data.responseStatus && data.responseStatus.message);
  // The page asks with its session, so a 401 means the session is over.
  if (status === 401) return "Your session has ended: sign in again.";
  if (message) return sentence(message);
  return "The gateway answered with an error (" + status + ").";
}

// Which field of Create Key a refusal of the server is about.
function keyFieldOf(message) {
  if (/model/i.test(message)) return "key-models";
  if (/minute/i.test(message)) return "key-rpm";
  if (/days/i.test(message)) return "key-expires";
  return "key-name";
}

// Revoke (My Account and Manage Users): after the confirmation, DELETE the key, then
// `done(id)` refreshes what shows it.
function setupRevokeKey(done) {
  const dialog = byId("revoke-key-dialog");
  if (!dialog) return;
  document.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-revoke-key]");
    if (!button) return;
    openDialog(dialog, button.dataset.keyName || "");
    dialog.dataset.keyId = button.dataset.revokeKey;
  });
  onDialogSubmit(dialog, async () => {
    const id = dialog.dataset.keyId;
    const name = dialog.dataset.user;
    const result = await request("/account/keys/" + encodeURIComponent(id), { method: "DELETE" });
    if (result.status === 401) {
      signInAgain();
      return "Your session has ended.";
    }
    if (!result.ok) {
      // Gone already (revoked elsewhere): show the list as it is now.
      if (result.status === 404) await done(id);
      return errorMessage(result);
    }
    showToast("API key '" + name + "' revoked.");
    await done(id);
    return undefined;
  });
}

function setupOwnKeys() {
  const section = byId("api-keys");
  if (!section) return;
  document.querySelectorAll("[data-v1-url]").forEach((el) => {
    el.textContent = window.location.origin + "/v1";
  });
  const copy = byId("copy-key");
  if (copy) copy.addEventListener("click", copyNewKey);
  const hideNewKey = () => {
    byId("new-key-value").value = "";
    byId("new-key").hidden = true;
    delete byId("new-key").dataset.keyId;
  };
  const dismiss = byId("dismiss-key");
  if (dismiss) {
    dismiss.addEventListener("click", () => {
      hideNewKey();
      const create = section.querySelector("[data-open=create-key-dialog]");
      if (create) create.focus();
    });
  }
  setupRevokeKey(async (id) => {
    // The key just shown, revoked: it is of no use any more.
    const box = byId("new-key");
    if (box && box.dataset.keyId === id) hideNewKey();
    await refreshOwnKeys();
  });

  const dialog = byId("create-key-dialog");
  if (!dialog) return;
  // With an upstream, the dialog says which models there are.
  const available = byId("key-models-available");
  let listed = false;
  section.querySelectorAll("[data-open=create-key-dialog]").forEach((button) => {
    button.addEventListener("click", async () => {
      if (!available || listed) return;
      listed = true;
      const models = await listModels();
      if (models.ids && models.ids.length) {
        available.textContent = "Available: " + models.ids.join(", ") + ".";
      } else {
        listed = false;
      }
    });
  });
  onDialogSubmit(dialog, async () => {
    const name = fieldValue("key-name").trim();
    if (!name) return refusal("Enter a name for the key.", "key-name");
    const json = { name };
    const days = fieldValue("key-expires");
    if (days) json.expiresDays = Number(days);
    const models = fieldValue("key-models").split(",").map((m) => m.trim()).filter(Boolean);
    if (models.length) json.models = models;
    const rpmInput = byId("key-rpm");
    const rpmText = fieldValue("key-rpm").trim();
    if (rpmText || (rpmInput && rpmInput.validity.badInput)) {
      const rpm = Number(rpmText);
      const max = Number(rpmInput.max) || 100000;
      if (!Number.isInteger(rpm) || rpm < 1 || rpm > max) {
        return refusal("Requests per minute: a whole number from 1 to " + max + ", or empty for no limit.", "key-rpm");
      }
      json.rpm = rpm;
    }
    const result = await request("/account/keys", { json });
    if (result.status === 401) {
      signInAgain();
      return "Your session has ended.";
    }
    if (!result.ok) {
      const message = errorMessage(result);
      return refusal(message, keyFieldOf(message));
    }
    const made = result.data || {};
    if (typeof made.key !== "string") return "The key was made but not shown: revoke it and make another.";
    showNewKey(typeof made.name === "string" ? made.name : name, made.key, made.id);
    await refreshOwnKeys(made.id);
    return undefined;
  });
}

// Manage Users: the keys of the user `dialog` was opened for (GET /admin/keys).
async function showUserKeys(dialog) {
  const status = byId("user-keys-status");
  const list = byId("user-keys-list");
  const name = dialog.dataset.user;
  const provider = dialog.dataset.provider;
  const result = await request("/admin/keys", { method: "GET" });
  if (dialog.dataset.user !== name) return; // Opened for someone else meanwhile.
  if (result.status === 401) return signInAgain();
  list.replaceChildren();
  if (!result.ok) {
    status.textContent = "The keys could not be listed: " + errorMessage(result);
    return;
  }
  const all = result.data && Array.isArray(result.data.keys) ? result.data.keys : [];
  const keys = all.filter((k) => k.userName === name && (k.provider || "credentials") === provider);
  keys.forEach((key) => list.appendChild(keyItem(key)));
  status.textContent = keys.length === 0 ? name + " has no API keys."
    : keys.length + (keys.length === 1 ? " key." : " keys.");
}

function setupUserKeys() {
  const dialog = byId("user-keys-dialog");
  if (!dialog) return;
  setupRevokeKey(async () => {
    await showUserKeys(dialog);
    await refreshUsers(dialog.dataset.user);
    const close = dialog.querySelector(".modal-actions [data-close]");
    if (dialog.open && close) close.focus();
  });
}

// Opens the dialog with the keys of `name` (of `provider`).
function openUserKeys(name, provider) {
  const dialog = byId("user-keys-dialog");
  if (!dialog) return;
  openDialog(dialog, name, provider);
  byId("user-keys-status").textContent = "Loading the keys…";
  byId("user-keys-list").replaceChildren();
  showUserKeys(dialog);
}

// ---- Manage Users: an account's sessions ------------------------------------------------

// Lists where `name` is signed in (GET /admin/users/{name}/sessions), each with Sign out.
async function showUserSessions(name) {
  const status = byId("user-sessions-status");
  const list = byId("user-sessions-list");
  const endAll = byId("user-sessions-end-all");
  const base = "/admin/users/" + encodeURIComponent(name) + "/sessions";
  const result = await request(base, { method: "GET" });
  list.replaceChildren();
  endAll.hidden = true;
  if (!result.ok) {
    status.textContent = "The sessions could not be listed: " + errorMessage(result);
    return;
  }
  const sessions = result.data && Array.isArray(result.data.sessions) ? result.data.sessions : [];
  sessions.forEach((session) => {
    const item = document.createElement("li");
    item.className = "key-item";
    item.dataset.testid = "user-session-item";
    const main = document.createElement("div");
    main.className = "key-main";
    const title = document.createElement("div");
    title.className = "key-name";
    title.textContent = session.device;
    const meta = document.createElement("div");
    meta.className = "key-meta muted";
    meta.textContent = session.ip + " · signed in " + new Date(session.created * 1000).toLocaleString();
    main.append(title, meta);
    const button = document.createElement("button");
    button.type = "button";
    button.className = "btn";
    button.textContent = "Sign out";
    button.dataset.testid = "user-session-sign-out";
    button.addEventListener("click", async () => {
      button.disabled = true;
      const ended = await request(base + "/" + encodeURIComponent(session.id), { method: "DELETE" });
      if (!ended.ok) showToast("Not signed out: " + errorMessage(ended), true);
      await showUserSessions(name);
    });
    item.append(main, button);
    list.appendChild(item);
  });
  endAll.hidden = sessions.length === 0;
  status.textContent = sessions.length === 0 ? name + " is signed in nowhere."
    : sessions.length + (sessions.length === 1 ? " session." : " sessions.");
}

function setupUserSessions() {
  const endAll = byId("user-sessions-end-all");
  if (!endAll) return;
  endAll.addEventListener("click", async () => {
    const dialog = byId("user-sessions-dialog");
    const name = dialog.dataset.user;
    endAll.disabled = true;
    const ended = await request("/admin/users/" + encodeURIComponent(name) + "/sessions", { method: "DELETE" });
    endAll.disabled = false;
    if (!ended.ok) showToast("Not signed out: " + errorMessage(ended), true);
    await showUserSessions(name);
  });
}

// Opens the dialog with the sessions of `name`.
function openUserSessions(name) {
  const dialog = byId("user-sessions-dialog");
  if (!dialog) return;
  openDialog(dialog, name);
  byId("user-sessions-status").textContent = "Loading the sessions…";
  byId("user-sessions-list").replaceChildren();
  showUserSessions(name);
}

// ---- Home page: the chat ----------------------------------------------------------------

// Reads a server-sent-event stream, calling `onData` with each event's data as it arrives;
// true when the stream said it was done (`[DONE]`).
async function readEvents(body, onData) {
  const reader = body.getReader();
  try {
    return await readDataLines(reader, onData);
  } catch (e) {
    // Stopped, cut, or refused by `onData`: let the server know the rest is not wanted.
    reader.cancel().catch(() => {});
    throw e;
  }
}

async function readDataLines(reader, onData) {
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    buffer += decoder.decode(value || new Uint8Array(0), { stream: !done });
    let end;
    while ((end = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, end).replace(/\r$/, "");
      buffer = buffer.slice(end + 1);
      if (!line.startsWith("data:")) continue;
      const data = line.slice(5).trim();
      if (data === "[DONE]") return true;
      if (data) onData(data);
    }
    if (done) return false;
  }
}

// An error the upstream reports inside a stream (`data: {"error": ...}`).
class StreamError extends Error {}

function setupChat() {
  const section = byId("chat");
  if (!section) return;
  const form = byId("chat-form");
  const model = byId("chat-model");
  const prompt = byId("chat-prompt");
  const send = byId("chat-send");
  const stop = byId("chat-stop");
  const error = byId("chat-error");
  const status = byId("models-status");
  const wrap = byId("chat-answer-wrap");
  const answer = byId("chat-answer");
  const note = byId("chat-note");
  let controller = null;

  function setReady(ready) {
    [model, prompt, send].forEach((el) => { el.disabled = !ready; });
  }

  function setStreaming(on) {
    send.disabled = on;
    model.disabled = on;
    stop.hidden = !on;
    answer.setAttribute("aria-busy", on ? "true" : "false");
    if (on) {
      stop.focus();
    } else if (document.activeElement === stop || document.activeElement === document.body) {
      prompt.focus();
    }
  }

  function showNote(text) {
    note.textContent = text;
    note.hidden = false;
  }

  async function loadModels() {
    const models = await listModels();
    if (models.status === 401) return signInAgain();
    if (!models.ids) {
      status.textContent = "The models could not be listed.";
      showError(error, models.error);
      return;
    }
    if (models.ids.length === 0) {
      status.textContent = "No models are available to you.";
      return;
    }
    const list = byId("model-list");
    models.ids.forEach((id) => {
      const item = document.createElement("li");
      const code = document.createElement("code");
      code.textContent = id;
      item.appendChild(code);
      list.appendChild(item);
      const option = document.createElement("option");
      option.value = id;
      option.textContent = id;
      model.appendChild(option);
    });
    list.hidden = false;
    status.textContent = models.ids.length === 1 ? "1 model:" : models.ids.length + " models:";
    setReady(true);
  }

  async function ask() {
    const text = prompt.value.trim();
    clearError(error);
    if (!model.value) {
      showError(error, "Choose a model first.");
      model.focus();
      return;
    }
    if (!text) {
      showError(error, "Type a message first.");
      prompt.focus();
      return;
    }
    answer.textContent = "";
    note.hidden = true;
    byId("chat-answer-model").textContent = " · " + model.value;
    wrap.hidden = false;
    wrap.scrollIntoView({ block: "nearest" });
    controller = new AbortController();
    setStreaming(true);
    let received = 0;
    let finished = false;
    const append = (content) => {
      if (typeof content === "string" && content !== "") {
        answer.append(content);
        received += content.length;
      }
    };
    try {
      const response = await fetch("/v1/chat/completions", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
        body: JSON.stringify({ model: model.value, messages: [{ role: "user", content: text }], stream: true }),
        signal: controller.signal,
      });
      const type = response.headers.get("Content-Type") || "";
      if (!response.ok || !type.includes("text/event-stream")) {
        let data = null;
        try {
          data = await response.json();
        } catch (_) {
          // No JSON body.
        }
        if (!response.ok || (data && data.error)) {
          showError(error, gatewayMessage(response.status, data));
          wrap.hidden = received === 0;
          return;
        }
        // A whole answer at once (an upstream that does not stream).
        const choice = data && Array.isArray(data.choices) ? data.choices[0] : null;
        append(choice && choice.message && choice.message.content);
        finished = true;
      } else {
        finished = await readEvents(response.body, (data) => {
          let chunk;
          try {
            chunk = JSON.parse(data);
          } catch (_) {
            return; // Not JSON: not an answer's chunk.
          }
          if (chunk && chunk.error) {
            throw new StreamError(sentence((chunk.error && chunk.error.message) || "The model reported an error"));
          }
          const choice = chunk && Array.isArray(chunk.choices) ? chunk.choices[0] : null;
          if (!choice) return;
          append(choice.delta && choice.delta.content);
          if (choice.finish_reason) finished = true;
        }) || finished;
      }
      if (received === 0) {
        showNote("The model sent an empty answer.");
      } else if (!finished) {
        showNote("The answer ended without its end mark: it may be incomplete.");
      }
    } catch (e) {
      if (e && e.name === "AbortError") {
        showNote(received ? "Stopped." : "Stopped before the answer began.");
      } else if (e instanceof StreamError) {
        showError(error, e.message);
      } else if (received > 0) {
        showError(error, "The connection was lost before the answer was complete.");
      } else {
        showError(error, "The server could not be reached. Check your connection and try again.");
      }
      if (received === 0 && !(e && e.name === "AbortError")) wrap.hidden = true;
    } finally {
      controller = null;
      setStreaming(false);
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (controller || send.disabled) return;
    ask();
  });
  prompt.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      if (!controller && !send.disabled) ask();
    }
  });
  stop.addEventListener("click", () => {
    if (controller) controller.abort();
  });
  loadModels();
}

// ---- Two-factor sign-in (My Account) ---------------------------------------------------

// A base32 secret in groups of four, for reading it out and typing it in.
function groupSecret(secret) {
  return secret.replace(/(.{4})(?=.)/g, "$1 ");
}

// Turning two-factor sign-in on (POST /account/2fa: the QR code and the secret; then
// POST /account/2fa/confirm with the first code: the recovery codes, shown once) and off
// (DELETE /account/2fa with the password and a code). The section shows the parts of
// its state (`data-two-factor-when`), switched here without a reload.
function setupTwoFactor() {
  const section = byId("two-factor");
  if (!section) return;
  const enable = byId("two-factor-enable");
  const setup = byId("two-factor-setup");
  const qr = byId("two-factor-qr");
  const secret = byId("two-factor-secret");
  const confirmForm = byId("two-factor-confirm-form");
  const code = byId("two-factor-code");
  const setupError = confirmForm.querySelector(".form-error");
  const codesBox = byId("recovery-codes");
  const codeList = byId("recovery-code-list");

  function showState(on) {
    section.dataset.on = on ? "true" : "false";
    section.querySelectorAll("[data-two-factor-when]").forEach((el) => {
      el.hidden = (el.dataset.twoFactorWhen === "on") !== on;
    });
  }

  // The pending secret leaves the page with the setup.
  function closeSetup() {
    setup.hidden = true;
    qr.removeAttribute("src");
    secret.textContent = "";
    delete secret.dataset.secret;
    code.value = "";
    clearError(setupError);
  }

  function hideRecoveryCodes() {
    codesBox.hidden = true;
    codeList.replaceChildren();
  }

  function showRecoveryCodes(codes) {
    codeList.replaceChildren();
    codes.forEach((text) => {
      const item = document.createElement("li");
      item.dataset.testid = "recovery-code";
      const value = document.createElement("code");
      value.textContent = text;
      item.appendChild(value);
      codeList.appendChild(item);
    });
    byId("recovery-copy-hint").hidden = true;
    codesBox.hidden = false;
    codesBox.scrollIntoView({ block: "nearest" });
    byId("copy-recovery-codes").focus();
  }

  enable.addEventListener("click", async () => {
    hideToast();
    enable.disabled = true;
    const result = await request("/account/2fa");
    enable.disabled = false;
    if (result.status === 401) return signInAgain();
    const data = result.data || {};
    if (!result.ok || typeof data.secret !== "string" || typeof data.qrSvg !== "string") {
      showToast("Two-factor sign-in could not be started: " + errorMessage(result), true);
      return;
    }
    hideRecoveryCodes();
    // An SVG document made by the server, shown as an image: never parsed into the page.
    qr.src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(data.qrSvg);
    secret.textContent = groupSecret(data.secret);
    secret.dataset.secret = data.secret;
    code.value = "";
    clearError(setupError);
    enable.hidden = true;
    setup.hidden = false;
    setup.scrollIntoView({ block: "nearest" });
    code.focus();
  });

  byId("two-factor-cancel").addEventListener("click", () => {
    closeSetup();
    showState(false);
    enable.focus();
  });

  byId("copy-two-factor-secret").addEventListener("click", async () => {
    const copied = await copyText(secret.dataset.secret || "", secret);
    showToast(copied ? "The key was copied to the clipboard." : "The key is selected: press Ctrl+C (⌘C on a Mac) to copy it.");
  });

  confirmForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (confirmForm.getAttribute("aria-busy") === "true") return;
    clearError(setupError);
    const typed = code.value.trim();
    if (!typed) {
      showError(setupError, "Enter the 6-digit code your app shows.");
      code.focus();
      return;
    }
    setBusy(confirmForm, true);
    const result = await request("/account/2fa/confirm", { json: { code: typed } });
    setBusy(confirmForm, false);
    if (result.status === 401) return signInAgain();
    if (!result.ok) {
      showError(setupError, throttledMessage(result) || errorMessage(result));
      code.focus();
      code.select();
      return;
    }
    const codes = result.data && Array.isArray(result.data.recoveryCodes)
      ? result.data.recoveryCodes.filter((c) => typeof c === "string") : [];
    closeSetup();
    showState(true);
    showRecoveryCodes(codes);
    showToast("Two-factor sign-in is on.");
  });

  byId("copy-recovery-codes").addEventListener("click", async () => {
    const codes = Array.from(codeList.querySelectorAll("code")).map((c) => c.textContent);
    const copied = await copyText(codes.join("\n"), codeList);
    byId("recovery-copy-hint").hidden = copied;
    if (copied) showToast("The recovery codes were copied to the clipboard.");
  });

  byId("recovery-codes-done").addEventListener("click", () => {
    hideRecoveryCodes();
    byId("two-factor-disable").focus();
  });

  const dialog = byId("two-factor-off-dialog");
  onDialogSubmit(dialog, async () => {
    const password = fieldValue("two-factor-off-password");
    const typed = fieldValue("two-factor-off-code").trim();
    if (!password) return refusal("Enter your password.", "two-factor-off-password");
    if (!typed) return refusal("Enter a code from your app, or a recovery code.", "two-factor-off-code");
    const result = await request("/account/2fa", { method: "DELETE", json: { password, code: typed } });
    if (result.status === 401) {
      signInAgain();
      return "Your session has ended.";
    }
    if (!result.ok) {
      const message = throttledMessage(result) || errorMessage(result);
      const aboutPassword = /password/i.test(message) && !/code/i.test(message);
      return refusal(message, aboutPassword ? "two-factor-off-password" : "two-factor-off-code");
    }
    hideRecoveryCodes();
    showState(false);
    showToast("Two-factor sign-in is off.");
    return undefined;
  });
  // The Turn Off button is gone once it worked: the focus goes to Turn On.
  dialog.addEventListener("close", () => {
    if (!enable.hidden && (document.activeElement === document.body || !document.activeElement)) enable.focus();
  });
}

// ---- Where you're signed in (My Account) ------------------------------------------------

// Sign out one session, or every one but this (web/sessions.rs). Ending this very
// session is signing out: the sign-in page follows; otherwise the page is fetched again.
function setupOwnSessions() {
  const section = byId("sessions");
  if (!section) return;
  section.addEventListener("click", async (event) => {
    const one = event.target.closest("[data-sign-out-session]");
    const others = event.target.closest("[data-revoke-other-sessions]");
    if (!one && !others) return;
    const button = one || others;
    button.disabled = true;
    const result = one
      ? await request("/account/sessions/" + encodeURIComponent(one.dataset.signOutSession), { method: "DELETE" })
      : await request("/account/sessions/revoke-others");
    // This very session was ended elsewhere: sign in again.
    if (result.status === 401) return signInAgain();
    if (!result.ok) {
      button.disabled = false;
      showToast("Not signed out: " + errorMessage(result), true);
      return;
    }
    if (one && one.dataset.current === "true") {
      window.location.href = "/login";
      return;
    }
    window.location.reload();
  });
}

document.addEventListener("DOMContentLoaded", () => {
  setupDialogs();
  setupRevealButtons();
  setupSignIn();
  setupChoosePassword();
  setupReset();
  setupSignOut();
  setupMenu();
  setupManageUsers();
  setupUserKeys();
  setupUserSessions();
  setupAccount();
  setupTwoFactor();
  setupOwnKeys();
  setupOwnSessions();
  setupChat();
});
