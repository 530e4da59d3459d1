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

function errorMessage(result) {
  const message = result.data && result.data.responseStatus && result.data.responseStatus.message;
  if (message) return message;
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
  clearError(dialog.querySelector(".form-error"));
  setBusy(form, false);
  dialog.dataset.user = targetName;
  dialog.dataset.provider = provider;
  dialog.querySelectorAll("[data-target-name]").forEach((el) => { el.textContent = targetName; });
  dialog.querySelectorAll("[data-target-value]").forEach((el) => { el.value = targetName; });
  if (!dialog.open) dialog.showModal();
  const first = dialog.querySelector(".modal-body input:not([hidden]):not([type=checkbox])")
    || dialog.querySelector(".modal-actions [data-close]");
  if (first) first.focus();
}

function setBusy(form, busy) {
  form.querySelectorAll("button[type=submit]").forEach((b) => { b.disabled = busy; });
  form.setAttribute("aria-busy", busy ? "true" : "false");
}

// Runs `handler(dialog)` when the dialog's form is submitted. The handler returns an error
// message to show in the dialog (which then keeps what was typed), or nothing to close it.
function onDialogSubmit(dialog, handler) {
  if (!dialog) return;
  const form = dialog.querySelector("form");
  const error = dialog.querySelector(".form-error");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (form.getAttribute("aria-busy") === "true") return;
    clearError(error);
    setBusy(form, true);
    let message;
    try {
      message = await handler(dialog);
    } finally {
      setBusy(form, false);
    }
    if (message) {
      showError(error, message);
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

// ---- Sign in and out --------------------------------------------------------------------

function formatWait(seconds) {
  if (seconds < 90) return seconds + (seconds === 1 ? " second" : " seconds");
  const minutes = Math.ceil(seconds / 60);
  if (minutes < 90) return minutes + " minutes";
  return Math.ceil(minutes / 60) + " hours";
}

function setupSignIn() {
  const form = byId("sign-in-form");
  if (!form) return;
  const error = form.querySelector(".form-error");
  const button = form.querySelector("button[type=submit]");
  let countdown = null;

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
      showError(error, reason + " Try again in " + formatWait(left) + ".");
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
      showError(error, "This account is locked: " + result.data.responseStatus.message);
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

// Replaces the users table with a fresh one from the server, flashing the row `highlight`.
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
  const table = document.importNode(fresh, true);
  current.replaceWith(table);
  if (highlight) {
    table.querySelectorAll("tr[data-user]").forEach((row) => {
      if (row.dataset.user === highlight) row.classList.add("flash");
    });
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

function setupManageUsers() {
  const page = byId("manage-users");
  if (!page) return;
  const dialogs = {
    create: byId("create-user-dialog"),
    password: byId("password-dialog"),
    lock: byId("lock-dialog"),
    remove: byId("delete-dialog"),
  };

  page.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-action]");
    const row = button && button.closest("tr[data-user]");
    if (!row) return;
    const name = row.dataset.user;
    const provider = row.dataset.provider;
    switch (button.dataset.action) {
      case "password": openDialog(dialogs.password, name, provider); break;
      case "lock": openDialog(dialogs.lock, name, provider); break;
      case "delete": openDialog(dialogs.remove, name, provider); break;
      case "unlock": {
        button.disabled = true;
        const error = await adminAction("/admin/users",
          { method: "PUT", json: { userName: name, provider, locked: false } },
          name, "User '" + name + "' unlocked.");
        if (error) {
          button.disabled = false;
          showToast(error, true);
        }
        break;
      }
      default: break;
    }
  });

  onDialogSubmit(dialogs.create, async () => {
    const userName = fieldValue("new-username").trim();
    const password = fieldValue("new-user-password");
    if (!userName || !password) return "Username and password are required.";
    if (password !== fieldValue("new-user-confirm")) return "The passwords do not match.";
    const roles = byId("new-user-admin").checked ? ["Admin"] : [];
    return adminAction("/admin/users", { json: { userName, password, roles } },
      userName, "User '" + userName + "' created.");
  });

  onDialogSubmit(dialogs.password, async (dialog) => {
    const name = dialog.dataset.user;
    const provider = dialog.dataset.provider;
    const password = fieldValue("reset-password");
    if (!password) return "Enter the new password.";
    if (password !== fieldValue("reset-confirm")) return "The passwords do not match.";
    return adminAction("/admin/users", { method: "PUT", json: { userName: name, provider, password } },
      name, "Password of '" + name + "' changed.");
  });

  onDialogSubmit(dialogs.lock, async (dialog) => {
    const name = dialog.dataset.user;
    const provider = dialog.dataset.provider;
    // No reason: `true`, and the server records its default reason.
    const reason = fieldValue("lock-reason").trim() || true;
    return adminAction("/admin/users",
      { method: "PUT", json: { userName: name, provider, locked: reason } },
      name, "User '" + name + "' locked.");
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
    if (!currentPassword) return "Enter your current password.";
    if (!newPassword) return "Enter a new password.";
    if (newPassword !== fieldValue("confirm-password")) return "The new passwords do not match.";
    const result = await request("/account/change-password", { json: { currentPassword, newPassword } });
    if (result.status === 401) {
      signInAgain();
      return "Your session has ended.";
    }
    if (!result.ok) return errorMessage(result);
    showToast("Your password was changed.");
    return undefined;
  });
}

document.addEventListener("DOMContentLoaded", () => {
  setupDialogs();
  setupSignIn();
  setupSignOut();
  setupMenu();
  setupManageUsers();
  setupAccount();
});
