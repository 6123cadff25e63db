"""Replenishment: demand forecast, reorder point, draft purchase order, approval, write-back."""
