"""Readers for the ECG file formats research groups hold. Pure Python + the field's libraries: no Django.

Each reader turns one import unit (a file, a WFDB record, a PTB-XL folder) into `Record`s; the import
service (annotations/services/imports/exams.py) stores them. See base.py for the common interface.
"""
