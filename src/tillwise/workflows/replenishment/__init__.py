"""Replenishment: demand forecast, reorder point, draft purchase order, approval, write-back.

* :mod:`.history`: the store's demand history as the forecaster's long frame;
* :mod:`.policy`, :mod:`.orders`, :mod:`.explain`: the pure inventory policy, purchase orders
  and their plain-words justification;
* :mod:`.planner`: one store's plan (history → forecast → policy → orders → proposals);
* :mod:`.workflow`: the event-stream side (demand history, stock-outs, the reorder trigger);
* :mod:`.schedule`: when each store's nightly plan is due.
"""

from .workflow import Replenishment

__all__ = ["Replenishment"]
