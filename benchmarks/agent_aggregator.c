/* A benchmark stand-in for the Datadog Agent's builtin `aggregator` module (rtloader), with the
 * per-call cost of its C side: each call takes the GIL state, parses its arguments with
 * PyArg_ParseTuple in the builtin's formats, and copies every tag into a C string (UTF-8, as the
 * builtin does, skipping an item that is neither str nor bytes) that it frees afterwards. Where the
 * Agent would hand these to its Go callback, this counts them. Built by
 * benchmarks/side_by_side.py at bench time, never shipped.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdlib.h>
#include <string.h>

static unsigned long long metric_calls = 0;
static unsigned long long service_check_calls = 0;
static unsigned long long bucket_calls = 0;
static unsigned long long tag_bytes = 0;

/* A heap copy of a str (as UTF-8) or bytes item; NULL for anything else (or on error, cleared). */
static char *c_string_of(PyObject *item)
{
    PyObject *encoded = NULL;
    const char *data;
    char *copy;

    if (PyUnicode_Check(item)) {
        encoded = PyUnicode_AsEncodedString(item, "UTF-8", "strict");
        if (encoded == NULL) {
            PyErr_Clear();
            return NULL;
        }
        data = PyBytes_AS_STRING(encoded);
    } else if (PyBytes_Check(item)) {
        data = PyBytes_AS_STRING(item);
    } else {
        return NULL;
    }
    copy = strdup(data);
    Py_XDECREF(encoded);
    return copy;
}

/* The tags as a NULL-terminated array of heap C strings, or NULL with an exception set. */
static char **c_tags_of(PyObject *py_tags)
{
    PyObject *fast;
    Py_ssize_t length, i, kept = 0;
    char **tags;

    if (!PySequence_Check(py_tags)) {
        PyErr_SetString(PyExc_TypeError, "tags must be a sequence");
        return NULL;
    }
    length = PySequence_Length(py_tags);
    if (length < 0) {
        return NULL;
    }
    fast = PySequence_Fast(py_tags, "tags is not a sequence");
    if (fast == NULL) {
        return NULL;
    }
    tags = malloc(sizeof(*tags) * (length + 1));
    if (tags == NULL) {
        Py_DECREF(fast);
        PyErr_NoMemory();
        return NULL;
    }
    for (i = 0; i < length; i++) {
        char *tag = c_string_of(PySequence_Fast_GET_ITEM(fast, i));
        if (tag != NULL) {
            tags[kept++] = tag;
        }
    }
    tags[kept] = NULL;
    Py_DECREF(fast);
    return tags;
}

/* What the Agent's callback would receive: counted, then freed. */
static void hand_over(char **tags)
{
    char **tag;
    for (tag = tags; *tag != NULL; tag++) {
        tag_bytes += strlen(*tag);
        free(*tag);
    }
    free(tags);
}

static PyObject *submit_metric(PyObject *self, PyObject *args)
{
    PyObject *check, *py_tags;
    char *check_id, *name, *hostname, **tags;
    int metric_type;
    double value;
    unsigned char flush_first_value = 0;
    PyGILState_STATE gstate = PyGILState_Ensure();

    if (!PyArg_ParseTuple(args, "OsisdOs|b", &check, &check_id, &metric_type, &name, &value, &py_tags, &hostname,
                          &flush_first_value)
        || (tags = c_tags_of(py_tags)) == NULL) {
        PyGILState_Release(gstate);
        return NULL;
    }
    metric_calls++;
    hand_over(tags);
    PyGILState_Release(gstate);
    Py_RETURN_NONE;
}

static PyObject *submit_service_check(PyObject *self, PyObject *args)
{
    PyObject *check, *py_tags;
    char *check_id, *name, *hostname, *message, **tags;
    int status;
    PyGILState_STATE gstate = PyGILState_Ensure();

    if (!PyArg_ParseTuple(args, "OssiOss", &check, &check_id, &name, &status, &py_tags, &hostname, &message)
        || (tags = c_tags_of(py_tags)) == NULL) {
        PyGILState_Release(gstate);
        return NULL;
    }
    service_check_calls++;
    hand_over(tags);
    PyGILState_Release(gstate);
    Py_RETURN_NONE;
}

static PyObject *submit_histogram_bucket(PyObject *self, PyObject *args)
{
    PyObject *check, *py_tags;
    char *check_id, *name, *hostname, **tags;
    long long value;
    float lower_bound, upper_bound;
    int monotonic;
    unsigned char flush_first_value = 0;
    PyGILState_STATE gstate = PyGILState_Ensure();

    if (!PyArg_ParseTuple(args, "OssLffisO|b", &check, &check_id, &name, &value, &lower_bound, &upper_bound,
                          &monotonic, &hostname, &py_tags, &flush_first_value)
        || (tags = c_tags_of(py_tags)) == NULL) {
        PyGILState_Release(gstate);
        return NULL;
    }
    bucket_calls++;
    hand_over(tags);
    PyGILState_Release(gstate);
    Py_RETURN_NONE;
}

static PyObject *submit_event(PyObject *self, PyObject *args)
{
    PyObject *check, *event;
    char *check_id;

    if (!PyArg_ParseTuple(args, "OsO", &check, &check_id, &event)) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *counts(PyObject *self, PyObject *unused)
{
    return Py_BuildValue("(KKKK)", metric_calls, service_check_calls, bucket_calls, tag_bytes);
}

static PyObject *reset(PyObject *self, PyObject *unused)
{
    metric_calls = service_check_calls = bucket_calls = tag_bytes = 0;
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"submit_metric", submit_metric, METH_VARARGS, "Parses and copies a metric submission."},
    {"submit_service_check", submit_service_check, METH_VARARGS, "Parses and copies a service check."},
    {"submit_histogram_bucket", submit_histogram_bucket, METH_VARARGS, "Parses and copies a histogram bucket."},
    {"submit_event", submit_event, METH_VARARGS, "Parses an event submission."},
    {"counts", counts, METH_NOARGS, "(metrics, service checks, buckets, tag bytes) since the last reset."},
    {"reset", reset, METH_NOARGS, "Zeroes the counts."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {PyModuleDef_HEAD_INIT, "agent_aggregator", NULL, -1, methods};

PyMODINIT_FUNC PyInit_agent_aggregator(void)
{
    PyObject *module = PyModule_Create(&module_def);
    if (module == NULL) {
        return NULL;
    }
    PyModule_AddIntConstant(module, "GAUGE", 0);
    PyModule_AddIntConstant(module, "RATE", 1);
    PyModule_AddIntConstant(module, "COUNT", 2);
    PyModule_AddIntConstant(module, "MONOTONIC_COUNT", 3);
    PyModule_AddIntConstant(module, "COUNTER", 4);
    PyModule_AddIntConstant(module, "HISTOGRAM", 5);
    PyModule_AddIntConstant(module, "HISTORATE", 6);
    return module;
}
