/* The built-in default config: etc/hermod.yaml, compiled into the binary so
 * that `hermod serve` works with no file at all. */
    .section .rodata
    .global hermod_default_config
    .global hermod_default_config_end
hermod_default_config:
    .incbin "etc/hermod.yaml"
hermod_default_config_end:
    .byte 0
    .section .note.GNU-stack,"",@progbits
