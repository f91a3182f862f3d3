/* netlab.ChatRoom's C side (nlpy_room.h), included from netlab.i. Kept in its own file. */
%{
#include "nlpy_room.h"

/* The events of one step as [(type, code, seq, name, data), ...], name and data as bytes:
 * netlab/room.py decodes the text and makes the event objects. */
static PyObject *nlpy_room_events_to_py(const nlpy_room_events *ev)
{
    PyObject *list = PyList_New(ev->n);

    if (list == NULL)
        return NULL;
    for (int i = 0; i < ev->n; i++) {
        const nlpy_room_ev *e = &ev->ev[i];
        PyObject *item = Py_BuildValue("(iiKy#y#)", e->type, e->code, (unsigned long long)e->seq,
                                       ev->store + e->name_off, (Py_ssize_t)e->name_len,
                                       ev->store + e->data_off, (Py_ssize_t)e->len);
        if (item == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, item);
    }
    return list;
}

static PyObject *nlpy_room_counters_to_py(const nl_chat_room_counters *c)
{
    PyObject *frames = nlpy_chat_stats_to_py(&c->frames);

    if (frames == NULL)
        return NULL;
    return Py_BuildValue("{sKsKsKsKsKsKsKsKsN}", "members", (unsigned long long)c->members,
                         "joined", (unsigned long long)c->joined, "non_member",
                         (unsigned long long)c->non_member, "refused_full",
                         (unsigned long long)c->refused_full, "dropped_slow",
                         (unsigned long long)c->dropped_slow, "relayed",
                         (unsigned long long)c->relayed, "messages_in",
                         (unsigned long long)c->messages_in, "messages_out",
                         (unsigned long long)c->messages_out, "frames", frames);
}
%}

%nodefaultctor nlpy_room;
typedef struct nlpy_room {} nlpy_room;
%exception ~nlpy_room "$action";
%extend nlpy_room {
    ~nlpy_room() {
        nlpy_room_free($self);
    }
}
%typemap(in, numinputs=0) nlpy_room **new_room (nlpy_room *tmp = NULL) {
    $1 = &tmp;
}
%typemap(argout) nlpy_room **new_room {
    $result = SWIG_Python_AppendOutput($result,
                                       SWIG_NewPointerObj(*$1, $*1_descriptor, SWIG_POINTER_OWN));
}
%typemap(in, numinputs=0) nlpy_room_events *room_events_out (nlpy_room_events tmp) {
    memset(&tmp, 0, sizeof tmp);
    $1 = &tmp;
}
%typemap(argout) nlpy_room_events *room_events_out {
    PyObject *list = nlpy_room_events_to_py($1);
    if (list == NULL)
        SWIG_fail;
    Py_DECREF($result);
    $result = list;
}
%typemap(freearg) nlpy_room_events *room_events_out {
    nlpy_room_events_free($1);
}
%typemap(in, numinputs=0) nl_chat_room_counters *room_counters_out (nl_chat_room_counters tmp) {
    $1 = &tmp;
}
%typemap(argout) nl_chat_room_counters *room_counters_out {
    PyObject *d = nlpy_room_counters_to_py($1);
    if (d == NULL)
        SWIG_fail;
    $result = SWIG_Python_AppendOutput($result, d);
}

%rename(room_open) nlpy_room_open;
nlpy_rc nlpy_room_open(nlpy_room **new_room, int family, const char *bind_host, int bind_port,
                       const char *host_host, int host_port, const char *room, const char *name,
                       const void *in_buf, size_t in_len, int peer_lost_ms);
%rename(room_close) nlpy_room_close;
nlpy_rc nlpy_room_close(nlpy_room *r);
%rename(room_step) nlpy_room_step;
nlpy_count nlpy_room_step(nlpy_room *r, nlpy_room_events *room_events_out, int timeout_ms);
%rename(room_send) nlpy_room_send;
nlpy_rc nlpy_room_send(nlpy_room *r, const void *in_buf, size_t in_len);
%rename(room_leave) nlpy_room_leave;
nlpy_rc nlpy_room_leave(nlpy_room *r);
%rename(room_counters) nlpy_room_counters;
nlpy_rc nlpy_room_counters(nlpy_room *r, nl_chat_room_counters *room_counters_out);
%rename(room_local) nlpy_room_local;
nlpy_rc nlpy_room_local(nlpy_room *r, nlpy_addr *addr_out);
%rename(room_fileno) nlpy_room_fileno;
int nlpy_room_fileno(nlpy_room *r);

%constant int ROOM_EV_ENTERED = NL_CHAT_ROOM_EV_ENTERED;
%constant int ROOM_EV_JOINED = NL_CHAT_ROOM_EV_JOINED;
%constant int ROOM_EV_MESSAGE = NL_CHAT_ROOM_EV_MESSAGE;
%constant int ROOM_EV_LEFT = NL_CHAT_ROOM_EV_LEFT;
%constant int ROOM_EV_LOST = NL_CHAT_ROOM_EV_LOST;
%constant int ROOM_EV_DROPPED = NL_CHAT_ROOM_EV_DROPPED;
%constant int ROOM_EV_ROOM_CLOSED = NL_CHAT_ROOM_EV_ROOM_CLOSED;
%constant int ROOM_EV_CLOSED = NL_CHAT_ROOM_EV_CLOSED;
%constant int ROOM_EV_WARNING = NL_CHAT_ROOM_EV_WARNING;
