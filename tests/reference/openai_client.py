"""The official `openai` Python SDK as a client of the gateway, driven by tests/openai_sdk.rs.

Reads {"base_url", "api_key", "ops": [...]} as JSON on standard input and prints one JSON
list of results. Each op is a list: ["models"], ["chat", model], ["stream", model, extra],
["chat_error", model, api_key]. Errors come back as {"error": ExceptionClassName, "status"}.
Exits with status 3 when the SDK is not installed.
"""

import json
import sys
import time

try:
    import openai
except ImportError:
    print("the openai package is not installed", file=sys.stderr)
    sys.exit(3)


def client(base_url, api_key):
    # No retries: a refusal must surface as the SDK's own exception at once.
    return openai.OpenAI(base_url=base_url, api_key=api_key, max_retries=0, timeout=30)


def messages():
    return [{"role": "user", "content": "hello from the sdk"}]


def run(op, base_url, api_key):
    kind = op[0]
    try:
        if kind == "models":
            return {"ids": [m.id for m in client(base_url, api_key).models.list()]}
        if kind == "chat":
            answer = client(base_url, api_key).chat.completions.create(
                model=op[1], messages=messages()
            )
            return {"content": answer.choices[0].message.content}
        if kind == "chat_error":
            client(base_url, op[2]).chat.completions.create(model=op[1], messages=messages())
            return {"error": None}
        if kind == "stream":
            stream = client(base_url, api_key).chat.completions.create(
                model=op[1], messages=messages(), stream=True, extra_body=op[2]
            )
            first = None
            parts = []
            for chunk in stream:
                if first is None:
                    first = time.time()
                if chunk.choices and chunk.choices[0].delta.content:
                    parts.append(chunk.choices[0].delta.content)
            return {"first_at": first, "content": "".join(parts)}
        raise ValueError("unknown op " + kind)
    except openai.APIStatusError as e:
        return {"error": type(e).__name__, "status": e.status_code, "message": e.message}


def main():
    request = json.load(sys.stdin)
    results = [run(op, request["base_url"], request["api_key"]) for op in request["ops"]]
    print(json.dumps(results))


main()
