"""Pages for the short lists; a cursor for the long ones (ratings, rankings), which stays
correct while rows are being added."""

from rest_framework.pagination import CursorPagination, PageNumberPagination


class PagePagination(PageNumberPagination):
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 500


class IdCursorPagination(CursorPagination):
    page_size = 500
    page_size_query_param = "page_size"
    max_page_size = 5000
    ordering = "id"
