// Data capture in the router, outside the model server, as SageMaker's front end does it.
// njs gives each request its own VM, so these module variables belong to one request.
import fs from 'fs';

var chunks = [];
var when = null;

function now() {
    if (when === null) {
        when = new Date();
    }
    return when;
}

// Response body filter: keep a copy of what the client gets, only for sampled requests.
function collect(r, data, flags) {
    if (r.variables.byoc_sampled) {
        chunks.push(data);
    }
    r.sendBuffer(data, flags);
}

// The hour's folder under the endpoint's capture root (UTC, SageMaker's yyyy/mm/dd/hh), made on
// first use. A failure is logged by nginx and costs the record, never the request.
function hourDir(r) {
    if (!r.variables.byoc_sampled) {
        return 'unsampled';
    }
    var t = now().toISOString();
    var dir = r.variables.byoc_capture_variant + '/' + t.slice(0, 4) + '/' + t.slice(5, 7) + '/' + t.slice(8, 10) + '/' + t.slice(11, 13);
    var path = r.variables.byoc_capture_root + '/' + dir;
    try {
        fs.accessSync(path);  // one syscall in the common case: the hour's folder exists
    } catch (missing) {
        try {
            fs.mkdirSync(path, {recursive: true});
        } catch (e) {
            if (e.code !== 'EEXIST') {
                r.error('byoc capture: ' + e);
            }
        }
    }
    return dir;
}

function payload(buffer, encoding) {
    if (encoding === 'BASE64') {
        return buffer.toString('base64');
    }
    return buffer.toString();
}

function uuid(hex) {
    return hex.slice(0, 8) + '-' + hex.slice(8, 12) + '-' + hex.slice(12, 16) + '-' + hex.slice(16, 20) + '-' + hex.slice(20, 32);
}

// SageMaker's eventMetadata, plus what only the local router knows: the variant that answered
// (the back's X-Byoc-Variant, absent when the router answered on its own) and the status the
// client got, so the monitor attributes each record to its version and counts errors apart.
function metadata(r) {
    var found = {eventId: uuid(r.variables.request_id), inferenceTime: now().toISOString().slice(0, 19) + 'Z'};
    var variant = r.headersOut['X-Byoc-Variant'];
    if (variant) {
        found.byocVariant = variant;
    }
    found.byocStatus = Number(r.variables.status);
    return found;
}

// One JSON line in SageMaker's capture format; empty (not logged) for unsampled requests or a
// request body nginx had to spill to a file (larger than the capture buffer).
function record(r) {
    if (!r.variables.byoc_sampled || r.requestBuffer === undefined) {
        return '';
    }
    var inEncoding = r.variables.byoc_capture_in_encoding;
    var outEncoding = r.variables.byoc_capture_out_encoding;
    return JSON.stringify({
        captureData: {
            endpointInput: {
                observedContentType: r.headersIn['Content-Type'] || '',
                mode: 'INPUT',
                data: payload(r.requestBuffer, inEncoding),
                encoding: inEncoding
            },
            endpointOutput: {
                observedContentType: r.headersOut['Content-Type'] || '',
                mode: 'OUTPUT',
                data: payload(Buffer.concat(chunks), outEncoding),
                encoding: outEncoding
            }
        },
        eventMetadata: metadata(r),
        eventVersion: '0'
    });
}

export default {collect, hourDir, record};
