/**
 * Server-sent events over fetch (the dashboard reads /api/v1/events with fetch() so the
 * token can go in a header, so it parses the stream itself).
 */
/**
 * Incremental parser of a text/event-stream (the WHATWG rules that matter here: lines
 * end in CRLF, LF or CR; `:` starts a comment; `event`, `data`, `id`, `retry` fields;
 * a blank line dispatches). Feed it decoded text in chunks of any size.
 */
export class SseParser {
  constructor() {
    this.buf = "";
    this.type = "";
    this.data = [];
    this.lastId = "";
    /** The server's `retry:` in ms, once it sent one. */
    this.retry = undefined;
    this.comments = 0;
  }

  /** Returns the events completed by this chunk: `{ type, data, id }`, data as text. */
  feed(text) {
    const out = [];
    const buf = this.buf + text;
    // A CR at the very end may be the first half of a CRLF: it waits for the next chunk.
    const eol = /\r\n|\r(?!$)|\n/g;
    let pos = 0;
    let m;
    while ((m = eol.exec(buf)) !== null) {
      this.line(buf.slice(pos, m.index), out);
      pos = eol.lastIndex;
    }
    this.buf = buf.slice(pos);
    return out;
  }

  line(line, out) {
    if (line === "") {
      if (this.data.length > 0) out.push({ type: this.type || "message", data: this.data.join("\n"), id: this.lastId });
      this.type = "";
      this.data = [];
      return;
    }
    if (line.startsWith(":")) {
      this.comments++;
      return;
    }
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    switch (field) {
      case "event":
        this.type = value;
        break;
      case "data":
        this.data.push(value);
        break;
      case "id":
        if (!value.includes("\0")) this.lastId = value;
        break;
      case "retry":
        if (/^\d+$/.test(value)) this.retry = Number(value);
        break;
      default:
        break;
    }
  }
}
