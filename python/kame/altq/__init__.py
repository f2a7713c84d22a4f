"""ALTQ, alternate queueing (seed §5): per-interface output queues between
IP output and the link, as KAME's ``sys/altq``.

- :mod:`kame.altq.subr` (``altq_subr.c``): the interface queue
  (:class:`AltqIf`, ``ifaltq``), the token bucket regulator (:class:`Tbr`,
  ``tbr_set``/``tbr_dequeue``), ``altq_extractflow`` (:func:`extract_flow`)
  and the node's table of queued interfaces (:class:`Altq`);
- :mod:`kame.altq.classifier` (``acc_classify``): ``filter``/``filter6``
  rules mapping a packet to a class;
- :mod:`kame.altq.red` (``altq_red.c``, ``altq_rio.c``): RED with ECN
  marking, and RIO's three drop precedences;
- :mod:`kame.altq.fifoq`, :mod:`kame.altq.priq`, :mod:`kame.altq.hfsc`,
  :mod:`kame.altq.cbq`, :mod:`kame.altq.wfq`, :mod:`kame.altq.blue`: the
  disciplines (RED's flowvalve in :mod:`kame.altq.red`);
- :mod:`kame.altq.cdnr`: the diffserv traffic conditioner (token bucket
  meter, srTCM, trTCM, TSWTCM; pass, drop, mark);
- :mod:`kame.altq.conf`: ``altq.conf(5)``, parsed strictly
  (:class:`~kame.errors.AltqConfError` names the line).

The node calls :meth:`Altq.output` on every batch of frames it hands to the
link (``Node._flush``, the ``if_output``/``IFQ_ENQUEUE`` boundary) and
:meth:`Altq.next_deadline` from ``next_deadline``; with no interface under
ALTQ ``Node.altq`` is ``None`` and neither runs.
"""

from kame.altq.classifier import Classifier, Filter
from kame.altq.conf import AltqConf, parse_altq_conf
from kame.altq.subr import Altq, AltqClass, AltqIf, Flow, Tbr, extract_flow

__all__ = ["Altq", "AltqClass", "AltqConf", "AltqIf", "Classifier", "Filter", "Flow", "Tbr",
           "extract_flow", "parse_altq_conf"]
