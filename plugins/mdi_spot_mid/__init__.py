"""Consolidated spot mid pipeline for mdi: one ``spot_mid_1s`` event per interval from venue BBOs."""
