// Recast for Flamenco 3: a job type that runs a Recast shot on the farm.
//
// Install: copy this file into the Flamenco Manager's `scripts/` folder (beside its executable) and
// restart the Manager; define the variable `recast` (the recast executable on each platform) in
// flamenco-manager.yaml. `recast farm flamenco --job J` writes the submission (job.json) and can POST it.
//
// Tasks: customize and matte (when the job file has those sections), depth, one render task per chunk of
// frames (`recast render --chunk A-B`, handles from the job file), and assemble (the seams), each waiting
// for what it reads. Every render parameter travels in the job file; the commands hold only paths, the
// frame range and names, as separate arguments (no shell).

const JOB_TYPE = {
    label: "Recast",
    description: "Restyle a shot: its structure kept, its content edited (depth, chunked render, seams)",
    settings: [
        { key: "job_file", type: "string", subtype: "file_path", required: true,
          description: "The Recast job file (every render parameter is in it)" },
        { key: "frames", type: "string", required: true,
          description: "The shot's frame range, e.g. 1001-1048" },
        { key: "chunk_size", type: "int32", default: 16, propargs: { min: 1 },
          description: "Frames per render task (handles come on top)" },
        { key: "preset", type: "string", default: "",
          description: "Model preset (empty: the job file's)" },
        { key: "handles", type: "int32", default: -1, propargs: { min: -1 },
          description: "Extra frames rendered around each chunk (-1: the job file's)" },
        { key: "chunk_set", type: "string", required: true, visible: "web",
          description: "Names this submission's chunks, so they never mix with another's" },
        { key: "customize", type: "bool", default: false, visible: "hidden",
          description: "The job trains a LoRA first (its 'customize' section)" },
        { key: "matte", type: "bool", default: false, visible: "hidden",
          description: "The job makes its matte from clicks first (its 'matte' section)" },
    ],
};

function compileJob(job) {
    const settings = job.settings;
    if (!(settings.chunk_size >= 1)) {
        throw `chunk_size ${settings.chunk_size} is not allowed; expected a whole number of frames, at least 1`;
    }
    const jobFile = settings.job_file;
    const fields = [];  // the job fields the submission overrides: the preset and handles
    if (settings.preset) {
        fields.push("--model", settings.preset);
    }
    if (settings.handles >= 0) {
        fields.push("--handles", String(settings.handles));
    }

    const before = [];  // what the render needs made first
    if (settings.customize) {
        before.push(recastTask("customize", ["customize", "--job", jobFile]));
    }
    if (settings.matte) {
        before.push(recastTask("matte", ["matte", "--job", jobFile]));
    }
    const depth = recastTask("depth", ["depth", "--job", jobFile].concat(fields));

    const renders = [];
    for (const chunk of frameChunker(settings.frames, settings.chunk_size)) {
        const range = chunkRange(chunk);
        const task = recastTask(`render-${range}`, ["render", "--job", jobFile, "--chunk", range,
            "--chunk-set", settings.chunk_set].concat(fields), frameCount(chunk));
        task.addDependency(depth);
        for (const t of before) {
            task.addDependency(t);
        }
        renders.push(task);
    }
    const assemble = recastTask("assemble", ["assemble", "--job", jobFile, "--chunk-set", settings.chunk_set]
        .concat(fields));
    for (const t of renders) {
        assemble.addDependency(t);
    }

    for (const t of before.concat([depth], renders, [assemble])) {
        job.addTask(t);
    }
}

// A task running one recast command; `{recast}` is the Manager's variable for the executable.
function recastTask(name, args, steps) {
    const task = author.Task(name, "misc");
    task.addCommand(author.Command("exec", { exe: "{recast}", args: args.concat(["--json"]) }, steps || 0));
    return task;
}

// frameChunker merges a chunk's frames into Flamenco's notation ("1001-1004", "1009,1010", "1011");
// the shot's range is contiguous, so a chunk is its first to its last frame.
function chunkRange(chunk) {
    const parts = String(chunk).split(",");
    const first = parts[0].split("-")[0].trim();
    const lastPart = parts[parts.length - 1].split("-");
    const last = lastPart[lastPart.length - 1].trim();
    return `${first}-${last}`;
}
