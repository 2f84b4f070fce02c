"""Plain service modules that hold the portal's rules.

They take explicit arguments (never ``request`` or ``g``) and own their transactions.
"""
