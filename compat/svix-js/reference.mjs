// The Svix reference OpenAPI document as a contract checker: every HTTP
// exchange the test makes is matched to its reference operation, and its
// status and raw JSON body are checked against what the reference declares.
//
// The SDK's deserializers copy fields without looking (a missing required
// field becomes undefined, an unknown one is dropped), so the checks run on
// the raw bodies, captured by the fetch the SDK is given.

import { readFileSync } from "node:fs";

const METHODS = ["get", "head", "post", "put", "patch", "delete"];

// The fields outside the reference's models that the current Svix server
// writes too, and so Hookbridge as well (docs/api.md, "Where Hookbridge
// differs from Svix"): the older names beside eventTypes and throttleRate,
// the deprecated version, and an attempt's msg, which only with_msg=true
// asks for. Every other field outside a model fails.
const WRITTEN_BY_SVIX_TOO = {
  ApplicationOut: ["rateLimit"],
  EndpointOut: ["filterTypes", "rateLimit", "version"],
  MessageEndpointOut: ["filterTypes", "rateLimit", "version"],
  MessageAttemptOut: ["msg"],
};
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

export class Reference {
  /** @param {string} path the reference OpenAPI JSON file */
  constructor(path) {
    this.doc = JSON.parse(readFileSync(path, "utf8"));
    this.schemas = this.doc.components.schemas;
    this.operations = [];
    for (const [path, item] of Object.entries(this.doc.paths)) {
      for (const method of METHODS) {
        const op = item[method];
        if (!op) continue;
        const pattern = path.replace(/\{[^}]+\}/g, "[^/]+");
        this.operations.push({
          // Health ping has no operationId: it is named by method and path.
          key: op.operationId ?? `${method.toUpperCase()} ${path}`,
          method: method.toUpperCase(),
          path,
          regex: new RegExp(`^${pattern}$`),
          params: (path.match(/\{/g) ?? []).length,
          responses: op.responses,
        });
      }
    }
  }

  /** Every operation key of the reference, each once. */
  keys() {
    return [...new Set(this.operations.map((op) => op.key))];
  }

  /** The reference operation a request is, or undefined. */
  match(method, pathname) {
    const found = this.operations
      .filter((op) => op.method === method && op.regex.test(pathname))
      .sort((a, b) => a.params - b.params); // a literal segment beats a parameter
    return found[0];
  }

  /**
   * The ways one exchange breaks the reference, as sentences naming the
   * operation, the status and the field; none when it keeps it.
   */
  check({ method, pathname, status, contentType, body }) {
    const op = this.match(method, pathname);
    if (!op) return [`${method} ${pathname}: not an operation of the reference`];
    const name = `${op.key} ${status}`;
    let declared = op.responses[String(status)];
    if (!declared && status === 204 && !hasSuccess(op)) {
      // The reference declares no success status at all for the two
      // expunge operations and HEAD /api/v1/health, while the Svix server
      // answers them 204 and the SDK reads no body: 204 with an empty body
      // is what the reference means there.
      declared = { description: "no content" };
    }
    if (!declared) {
      return [`${name}: status not declared by the reference (declared: ${Object.keys(op.responses).join(", ")})`];
    }
    const schema = declared.content?.["application/json"]?.schema;
    if (!schema) {
      return body === "" ? [] : [`${name}: the reference declares no body, got ${JSON.stringify(body.slice(0, 200))}`];
    }
    if (!/^application\/json\b/.test(contentType ?? "")) {
      return [`${name}: Content-Type ${JSON.stringify(contentType)}, want application/json`];
    }
    let value;
    try {
      value = JSON.parse(body);
    } catch {
      return [`${name}: body is not JSON: ${JSON.stringify(body.slice(0, 200))}`];
    }
    return this.validate(schema, value, "").map((problem) => `${name}: ${problem}`);
  }

  /**
   * Checks a decoded JSON value against a reference schema: types,
   * nullability, enums, formats and bounds; every required field present;
   * and, in a named model, no field the model does not have.
   */
  validate(schema, value, where, model = false) {
    if (schema.$ref) {
      const name = schema.$ref.split("/").pop();
      return this.validate(this.schemas[name], value, `${where}<${name}>`, name);
    }
    const at = where || "body";
    if (value === null) {
      return schema.nullable ? [] : [`${at}: null, the reference does not allow null`];
    }
    const problems = [];
    if (schema.type && !hasType(schema.type, value)) {
      return [`${at}: ${JSON.stringify(value)?.slice(0, 80)} is not of type ${schema.type}`];
    }
    if (schema.enum && !schema.enum.includes(value)) {
      problems.push(`${at}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
    }
    if (typeof value === "string") {
      if (schema.format === "date-time" && (!DATE_TIME.test(value) || Number.isNaN(Date.parse(value)))) {
        problems.push(`${at}: ${JSON.stringify(value)} is not an RFC 3339 date-time`);
      }
      if (schema.format === "uri" && !URL.canParse(value)) {
        problems.push(`${at}: ${JSON.stringify(value)} is not a URI`);
      }
      if (schema.minLength !== undefined && value.length < schema.minLength) problems.push(`${at}: shorter than ${schema.minLength}`);
      if (schema.maxLength !== undefined && value.length > schema.maxLength) problems.push(`${at}: longer than ${schema.maxLength}`);
      if (schema.pattern && !new RegExp(schema.pattern).test(value)) problems.push(`${at}: ${JSON.stringify(value)} does not match ${schema.pattern}`);
    }
    if (typeof value === "number") {
      if (schema.minimum !== undefined && value < schema.minimum) problems.push(`${at}: ${value} is below ${schema.minimum}`);
      if (schema.maximum !== undefined && value > schema.maximum) problems.push(`${at}: ${value} is above ${schema.maximum}`);
    }
    if (Array.isArray(value)) {
      if (schema.minItems !== undefined && value.length < schema.minItems) problems.push(`${at}: fewer than ${schema.minItems} items`);
      if (schema.maxItems !== undefined && value.length > schema.maxItems) problems.push(`${at}: more than ${schema.maxItems} items`);
      if (schema.uniqueItems && new Set(value.map((v) => JSON.stringify(v))).size !== value.length) problems.push(`${at}: items are not unique`);
      if (schema.items) value.forEach((item, i) => problems.push(...this.validate(schema.items, item, `${where}[${i}]`)));
    }
    if (isObject(value) && (schema.type === "object" || schema.properties)) {
      const properties = schema.properties ?? {};
      for (const field of schema.required ?? []) {
        if (value[field] === undefined) problems.push(`${where}.${field}: required by the reference, missing`);
      }
      for (const [field, v] of Object.entries(value)) {
        if (properties[field]) {
          problems.push(...this.validate(properties[field], v, `${where}.${field}`));
        } else if (typeof schema.additionalProperties === "object") {
          problems.push(...this.validate(schema.additionalProperties, v, `${where}.${field}`));
        } else if ((model || schema.properties) && !WRITTEN_BY_SVIX_TOO[model]?.includes(field)) {
          // A field the SDK would silently drop: extensions belong in
          // sub-resources, not in a Svix model.
          problems.push(`${where}.${field}: not a field of the reference's model`);
        }
      }
    }
    return problems;
  }
}

function hasSuccess(op) {
  return Object.keys(op.responses).some((status) => status.startsWith("2"));
}

function isObject(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function hasType(type, value) {
  switch (type) {
    case "object":
      return isObject(value);
    case "array":
      return Array.isArray(value);
    case "string":
      return typeof value === "string";
    case "integer":
      return Number.isInteger(value);
    case "number":
      return typeof value === "number";
    case "boolean":
      return typeof value === "boolean";
    default:
      throw new Error(`the reference uses type ${type}, which this checker does not know`);
  }
}

/**
 * A fetch that checks every exchange against the reference before handing
 * the response on, and remembers, per test, which operations were called
 * and what broke the contract.
 */
export class Recorder {
  constructor(reference) {
    this.reference = reference;
    this.test = "setup";
    this.problems = [];
    this.calledIn = new Map(); // operation key → names of the tests that called it
    this.last = undefined; // the latest exchange: { method, pathname, status, body }
    this.fetch = this.fetch.bind(this);
  }

  /** Starts attributing exchanges to the named test. */
  begin(test) {
    this.test = test;
  }

  /** The contract problems seen since begin, each once. */
  take() {
    const problems = [...new Set(this.problems.map((p) => p.replace(/\[\d+\]/g, "[]")))];
    this.problems = [];
    return problems;
  }

  async fetch(input, init = {}) {
    const method = (init.method ?? "GET").toUpperCase();
    const url = new URL(input instanceof Request ? input.url : input);
    const response = await fetch(input, init);
    const body = await response.clone().text();
    this.last = { method, pathname: url.pathname, status: response.status, body };
    const op = this.reference.match(method, url.pathname);
    if (op) {
      if (!this.calledIn.has(op.key)) this.calledIn.set(op.key, new Set());
      this.calledIn.get(op.key).add(this.test);
    }
    this.problems.push(
      ...this.reference.check({
        method,
        pathname: url.pathname,
        status: response.status,
        contentType: response.headers.get("content-type"),
        body,
      }),
    );
    return response;
  }
}
