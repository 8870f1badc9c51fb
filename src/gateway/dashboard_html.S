/* The dashboard page (gateway/dashboard.html), compiled into the binary
 * so that GET / needs no file and no other host. */
    .section .rodata
    .global hermod_dashboard_html
    .global hermod_dashboard_html_end
hermod_dashboard_html:
    .incbin "src/gateway/dashboard.html"
hermod_dashboard_html_end:
    .byte 0
    .section .note.GNU-stack,"",@progbits
