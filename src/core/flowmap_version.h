/* -*- c++ -*- ----------------------------------------------------------
   USER-FLOWMAP: the package's version, recorded in model files and shown by `plugin list`.
   The one place it is written: CMake reads it from here for project(), so plugin, in-tree and
   test builds agree.
------------------------------------------------------------------------- */

#ifndef FLOWMAP_VERSION_H
#define FLOWMAP_VERSION_H

#define FLOWMAP_VERSION "0.2.0"

#endif
