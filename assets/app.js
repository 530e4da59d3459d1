// llms-auth pages: sign-in, sign-out, the user menu, dialogs, Manage Users and My Account.
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

function setupSignIn() {
  const form = byId("sign-in-form");
  if (!form) return;
  const error = form.querySelector(".form-error");
  const button = form.querySelector("button[type=submit]");
  let countdown = null;

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

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (button.disabled) return;
    clearError(error);
    const username = form.username.value.trim();
    const password = form.password.value;
    if (!username || !password) {
      showError(error, "Enter your username and password.");
      (username ? form.password : form.username).focus();
      return;
    }
    button.disabled = true;
    const result = await request("/auth/login", { json: { username, password } });
    button.disabled = false;
    if (result.ok) {
      hidePasswords(form);
      window.location.assign(form.dataset.next || "/");
      return;
    }
    const wait = result.response && parseInt(result.response.headers.get("Retry-After"), 10);
    if (result.status === 429 && wait > 0) {
      const status = (result.data && result.data.responseStatus) || {};
      throttled(status.reason || "Too many failed sign-ins.", wait);
    } else if (result.status === 403 && result.data && result.data.responseStatus
               && result.data.responseStatus.locked === true) {
      // Only a locked account says so; any other 403 (a refused cross-site request, say)
      // is shown as it is.
      showError(error, sentence("This account is locked: " + result.data.responseStatus.message));
    } else {
      showError(error, errorMessage(result));
    }
    form.password.focus();
    form.password.select();
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
  };

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

document.addEventListener("DOMContentLoaded", () => {
  setupDialogs();
  setupRevealButtons();
  setupSignIn();
  setupSignOut();
  setupMenu();
  setupManageUsers();
  setupAccount();
});
