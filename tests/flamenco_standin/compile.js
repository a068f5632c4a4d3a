// A stand-in of Flamenco 3 Manager's job compiler (internal/manager/job_compilers: goja with the `author`
// module, frameChunker/frameCount, print, alert, path and formatTimestampLocal as globals), run under Node.
//
//   node compile.js JOB_TYPE_SCRIPT SUBMITTED_JOB.json  ->  stdout: the authored job as JSON
//
// Like the Manager it checks the submission's settings against JOB_TYPE (required keys, types), fills in
// the defaults, calls compileJob(job) and reports the tasks, their commands and dependencies by name. A
// script that throws is a refused job: its message on stderr, exit code 1.
"use strict";
const fs = require("fs");
const vm = require("vm");
const nodePath = require("path");

// --- frame ranges, as js_globals.go: "A-B", "A..B", "A,B" in; chunks merged back ("3-8", "9,10", "11") ---
function explode(range) {
    const frames = new Set();
    for (const part of String(range).replaceAll("..", "-").split(",")) {
        const ends = part.split("-").map((s) => s.trim());
        if (ends.length < 1 || ends.length > 2 || ends.some((s) => !/^-?\d+$/.test(s))) {
            throw new Error(`invalid range "${range}": "${part}"`);
        }
        const a = parseInt(ends[0], 10), b = parseInt(ends[ends.length - 1], 10);
        for (let f = a; f <= b; f++) frames.add(f);
    }
    return [...frames].sort((x, y) => x - y);
}
function merge(frames) {
    const out = [];
    let start = frames[0], prev = frames[0];
    const flush = (a, b) => {
        if (a === b) out.push(String(a));
        else if (a + 1 === b) out.push(String(a), String(b));
        else out.push(`${a}-${b}`);
    };
    for (const f of frames.slice(1)) {
        if (f !== prev + 1) { flush(start, prev); start = f; }
        prev = f;
    }
    flush(start, prev);
    return out.join(",");
}
function frameChunker(range, chunkSize) {
    if (!String(range).trim()) throw new Error(`invalid range "${range}": empty range`);
    if (!(chunkSize >= 1)) throw new Error(`invalid chunk size, must be positive number: ${chunkSize}`);
    const frames = explode(range);
    const chunks = [];
    for (let i = 0; i < frames.length; i += chunkSize) chunks.push(merge(frames.slice(i, i + chunkSize)));
    return chunks;
}
const frameCount = (range) => explode(range).length;

// --- the author module (author.go): Task(name, type), Command(name, parameters, totalStepCount) ---
let nextId = 0;
const author = {
    Task(name, type) {
        name = String(name || "").trim();
        type = String(type || "").trim();
        if (!name) throw new Error("author.Task(name, type): name is required");
        if (!type) throw new Error("author.Task(name, type): type is required");
        const task = { uuid: `task-${nextId++}`, name, type, priority: 50, commands: [], dependencies: [] };
        task.addCommand = (cmd) => { task.commands.push(cmd); };
        task.addDependency = (dep) => { task.dependencies.push(dep); };
        return task;
    },
    Command(name, parameters, totalStepCount) {
        return { name, parameters, totalStepCount: totalStepCount || 0 };
    },
};

// --- the Manager's side: settings checked against JOB_TYPE, then compileJob ---
const TYPES = { string: "string", int32: "number", float: "number", bool: "boolean" };
function checkSettings(jobType, settings) {
    for (const s of jobType.settings) {
        if (!(s.key in settings) && "default" in s) settings[s.key] = s.default;
        if (!(s.key in settings)) {
            if (s.required) throw new Error(`job setting "${s.key}" is required`);
            continue;
        }
        const v = settings[s.key];
        if (typeof v !== TYPES[s.type] || (s.type === "int32" && !Number.isInteger(v))) {
            throw new Error(`job setting "${s.key}" should be of type ${s.type}, not ${JSON.stringify(v)}`);
        }
    }
}

function main() {
    const [script, submitted] = process.argv.slice(2);
    const body = JSON.parse(fs.readFileSync(submitted, "utf8"));
    const printed = [];
    const context = vm.createContext({
        author, frameChunker, frameCount,
        print: (...args) => printed.push(args.map(String).join(" ")),
        alert: (...args) => printed.push(args.map(String).join(" ")),
        formatTimestampLocal: (t) => new Date(t).toISOString(),
        path: { join: nodePath.join, basename: nodePath.basename, dirname: nodePath.dirname,
                stem: (p) => nodePath.basename(p, nodePath.extname(p)) },
    });
    const source = fs.readFileSync(script, "utf8");
    const { JOB_TYPE, compileJob } = vm.runInContext(source + "\n;({ JOB_TYPE, compileJob });", context,
                                                     { filename: script });
    if (!JOB_TYPE || typeof JOB_TYPE.label !== "string" || !Array.isArray(JOB_TYPE.settings)) {
        throw new Error("JOB_TYPE must have a label and a settings list");
    }
    const expectedType = nodePath.basename(script, ".js");
    if (body.type !== expectedType) throw new Error(`job type "${body.type}" is not "${expectedType}"`);
    const settings = { ...(body.settings || {}) };
    checkSettings(JOB_TYPE, settings);
    const tasks = [];
    const job = { name: body.name, priority: body.priority, settings, metadata: body.metadata || {},
                  created: new Date().toISOString(), addTask: (t) => { tasks.push(t); } };
    compileJob(job);
    const out = tasks.map((t) => ({
        name: t.name, type: t.type, commands: t.commands,
        dependencies: t.dependencies.map((d) => d.name),
    }));
    process.stdout.write(JSON.stringify({ label: JOB_TYPE.label, settings: JOB_TYPE.settings.map((s) => s.key),
                                          tasks: out, printed }) + "\n");
}

try {
    main();
} catch (err) {
    process.stderr.write(`job compiler: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
}
