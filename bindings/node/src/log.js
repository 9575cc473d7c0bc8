'use strict';
/**
 * The worker's log: one line per event on stderr, in the words and fields of
 * `orq worker` (`--log-format human|json|quiet`), so that a Node worker's log
 * reads like the CLI's and feeds the same pipelines.
 */

const FORMATS = ['human', 'json', 'quiet'];
/** Human lines show this much of an error (the job keeps all of it). */
const ERROR_CHARS = 200;

/** The format asked for, else $ORQ_LOG_FORMAT, else human. */
function chosenFormat(chosen) {
  const name = chosen ?? (process.env.ORQ_LOG_FORMAT || 'human');
  if (!FORMATS.includes(name)) {
    const origin = chosen != null ? 'logFormat' : 'ORQ_LOG_FORMAT';
    throw new RangeError(`orq: ${origin} must be one of ${FORMATS.join(', ')}; got ${JSON.stringify(name)}`);
  }
  return name;
}

class Log {
  constructor(format) {
    this.format = format;
  }

  /** `outcome`: started, done, failed or lost; `error` says why it failed. */
  job(job, outcome, duration = null, error = null) {
    if (this.format === 'json') {
      const line = { time: now(), event: `job.${outcome}`, job: job.id, queue: job.queue };
      Object.assign(line, { attempt: job.attempt, max_attempts: job.maxAttempts, outcome });
      if (duration != null) line.duration = Math.round(duration * 1000) / 1000;
      if (error != null) line.error = error;
      write(JSON.stringify(line));
    } else if (this.format === 'human') {
      let text = `${now()} job ${job.id} [${job.queue}] attempt ${job.attempt}/${job.maxAttempts} ${outcome}`;
      if (duration != null) text += ` in ${duration.toFixed(3)}s`;
      if (error != null) text += `: ${cut(error, ERROR_CHARS)}`;
      write(text);
    }
  }

  /** A line about the worker itself: started, stopping, stopped. */
  worker(event, message) {
    if (this.format === 'json') write(JSON.stringify({ time: now(), event: `worker.${event}`, message }));
    else if (this.format === 'human') write(`${now()} worker ${event}: ${message}`);
  }
}

function write(line) {
  process.stderr.write(`${line}\n`);
}

/** `2026-11-26T13:02:11.123Z`, as the CLI writes times. */
function now() {
  return new Date().toISOString();
}

/** One line of at most `limit` characters. */
function cut(text, limit) {
  const flat = String(text).replace(/[\n\r\t]/g, ' ');
  const chars = [...flat];
  return chars.length <= limit ? flat : `${chars.slice(0, limit - 1).join('')}…`;
}

module.exports = { Log, chosenFormat, FORMATS };
