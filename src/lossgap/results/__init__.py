"""Result types: plain, typed data that rules read and renderers show."""
